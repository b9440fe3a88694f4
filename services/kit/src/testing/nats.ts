// A private nats-server with JetStream for tests that kill, restart or isolate NATS.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NATS_SERVER = process.env["NATS_SERVER_BIN"] ?? "/usr/sbin/nats-server";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A private nats-server with JetStream on a free port; kill -9 and restart it with its store. */
export interface OwnNats {
  url: string;
  start(): Promise<void>;
  kill(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function ownNatsServer(): Promise<OwnNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "filemesh-nats-"));
  let proc: ChildProcess | undefined;
  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };
  const start = async () => {
    const p = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    proc = p;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      let ready = false;
      p.stderr?.on("data", (b: Buffer) => {
        if (ready) return; // keep draining the pipe, stop collecting
        out += b.toString();
        if (out.includes("Server is ready")) {
          ready = true;
          resolve();
        }
      });
      p.once("exit", (code) => reject(new Error(`nats-server exited (${code}): ${out.slice(-500)}`)));
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    kill,
    async cleanup() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
