// A throw-away MinIO for tests: the pinned binary from `scripts/tools.sh minio`
// (.tools/bin/minio), a free loopback port, a temporary data directory and random
// credentials. `stop()` kills the process and removes the data.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createS3Store, type S3Settings } from "../blob/s3-store.js";

export interface TestMinio {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** What the file service's config reads (BLOB_DRIVER=s3 and the S3_* variables), bucket included. */
  env(bucket: string): Record<string, string>;
  /** The kit's s3 BlobStore on `bucket` of this MinIO (path-style; `init()` creates the bucket). */
  s3Store(bucket: string, extra?: Partial<S3Settings>): ReturnType<typeof createS3Store>;
  stop(): Promise<void>;
}

/** The repository's .tools/bin/minio (MINIO_BIN overrides). */
export function minioBinary(): string {
  if (process.env.MINIO_BIN) return process.env.MINIO_BIN;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, ".tools", "bin", "minio");
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, "..");
  }
  throw new Error("minio not found: run scripts/tools.sh minio (or set MINIO_BIN)");
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/**
 * Waits until the server takes S3 requests. Not `/minio/health/live`: it answers 200 as soon as
 * the HTTP server is up, while the object layer may still be starting (S3 calls then fail with
 * 503 XMinioServerNotInitialized — a suite's first CreateBucket did, on a loaded CI machine).
 * `/minio/health/cluster` answers 200 only once the object layer has its quorum.
 */
async function waitReady(endpoint: string, proc: ChildProcess, timeoutMs: number, output: () => string) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`minio exited (${proc.exitCode}): ${output()}`);
    try {
      const res = await fetch(`${endpoint}/minio/health/cluster`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`minio did not become ready within ${timeoutMs} ms: ${output()}`);
}

export async function startTestMinio(opts: { timeoutMs?: number } = {}): Promise<TestMinio> {
  const bin = minioBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "filemesh-minio-"));
  const accessKeyId = `test${randomBytes(6).toString("hex")}`;
  const secretAccessKey = randomBytes(24).toString("base64url");
  const region = "us-east-1";
  let lastError: unknown;
  // A port picked free can be taken before minio binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const consolePort = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let out = "";
    const proc = spawn(
      bin,
      [
        "server",
        "--quiet",
        "--address",
        `127.0.0.1:${port}`,
        "--console-address",
        `127.0.0.1:${consolePort}`,
        dataDir,
      ],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: dataDir,
          MINIO_ROOT_USER: accessKeyId,
          MINIO_ROOT_PASSWORD: secretAccessKey,
          MINIO_REGION: region,
          MINIO_BROWSER: "off",
          MINIO_UPDATE: "off",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    try {
      await waitReady(endpoint, proc, opts.timeoutMs ?? 30_000, () => out);
    } catch (err) {
      lastError = err;
      proc.kill("SIGKILL");
      await exited;
      continue;
    }
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      region,
      env: (bucket) => ({
        BLOB_DRIVER: "s3",
        S3_ENDPOINT: endpoint,
        S3_BUCKET: bucket,
        S3_REGION: region,
        S3_ACCESS_KEY_ID: accessKeyId,
        S3_SECRET_ACCESS_KEY: secretAccessKey,
      }),
      s3Store: (bucket, extra = {}) =>
        createS3Store({
          endpoint,
          region,
          bucket,
          accessKeyId,
          secretAccessKey,
          forcePathStyle: true,
          ...extra,
        }),
      async stop() {
        if (proc.exitCode === null) {
          proc.kill("SIGTERM");
          const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  rmSync(dataDir, { recursive: true, force: true });
  throw lastError;
}
