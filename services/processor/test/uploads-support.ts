// Helpers for tests that upload through the real file service and watch what the processor
// makes of it: raw uploads, random content, and the processor as a child process (bundled
// from source like scripts/build.mjs does) that can be killed with SIGKILL.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { filev1 } from "@filemesh/contracts";
import { Metadata } from "@grpc/grpc-js";
import { build } from "esbuild";
import sharp from "sharp";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Uploads `data` as `name` into the caller's home folder (UploadFile, 64 KiB messages). */
export function uploadFile(
  client: filev1.FileServiceClient,
  headers: Record<string, string>,
  name: string,
  data: Buffer,
): Promise<filev1.File> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) => {
    const stream = client.uploadFile(md, { deadline: Date.now() + 60_000 }, (err, res) =>
      err ? reject(err) : resolve(res.file!),
    );
    const chunk = 64 * 1024;
    for (let i = 0; i === 0 || i < data.length; i += chunk) {
      stream.write(
        filev1.UploadFileRequest.fromPartial({
          ...(i === 0 ? { parentId: "", name } : {}),
          body: { contentType: "application/octet-stream", data: data.subarray(i, i + chunk) },
        }),
      );
    }
    stream.end();
  });
}

/** A PNG of random pixels (compresses badly, so it is about w·h·3 bytes). */
export function noisePng(w: number, h: number): Promise<Buffer> {
  return sharp(randomBytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** A PNG signature and header followed by junk: sniffed as an image, not decodable. */
export async function fakePng(): Promise<Buffer> {
  const real = await noisePng(8, 8);
  return Buffer.concat([real.subarray(0, 40), Buffer.alloc(200, 7)]);
}

/** Bundles services/processor/src/main.ts (npm packages external) under .tmp; returns the path. */
export async function bundleProcessor(): Promise<string> {
  const dir = join(ROOT, ".tmp", "test-bundles");
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `processor-${randomBytes(4).toString("hex")}.mjs`);
  await build({
    entryPoints: [join(ROOT, "services", "processor", "src", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [
      {
        name: "npm-external",
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith("@filemesh/") ? undefined : { external: true },
          );
        },
      },
    ],
  });
  return outfile;
}

export interface ChildProcessor {
  /** Resolves once its workers run. */
  start(): Promise<void>;
  /** kill -9; resolves when it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (graceful). */
  stop(): Promise<void>;
  readonly starts: number;
}

export function childProcessor(bundle: string, env: Record<string, string>, logFile: string): ChildProcessor {
  let proc: ChildProcess | undefined;
  let starts = 0;
  const log = createWriteStream(logFile, { flags: "a" });
  const exit = async (signal: NodeJS.Signals) => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  };
  return {
    get starts() {
      return starts;
    },
    async start() {
      const p = spawn(process.execPath, [bundle], {
        cwd: ROOT,
        env: { PATH: process.env["PATH"] ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      proc = p;
      starts++;
      p.stderr?.pipe(log, { end: false });
      await new Promise<void>((resolve, reject) => {
        let buffered = "";
        let ready = false;
        p.stdout?.on("data", (b: Buffer) => {
          log.write(b);
          if (ready) return;
          buffered += b.toString();
          if (buffered.includes('"msg":"workers running"')) {
            ready = true;
            resolve();
          }
        });
        p.once("exit", (code, sig) => reject(new Error(`processor exited (${code ?? sig}); see ${logFile}`)));
      });
    },
    kill: () => exit("SIGKILL"),
    stop: () => exit("SIGTERM"),
  };
}
