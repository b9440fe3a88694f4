// A private redis-server on a free loopback port, for tests that flush, stop or restart Redis
// (never the shared instance on 6379: other test files use it in parallel).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "@filemesh/kit";

export interface OwnRedis {
  url: string;
  flushAll(): Promise<void>;
  /** Stops the server (SIGTERM, no persistence: everything is lost). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address() as { port: number };
  srv.close();
  return port;
}

async function ping(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on("error", () => {});
    try {
      await r.connect();
      await r.ping();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((res) => setTimeout(res, 50));
    } finally {
      r.disconnect();
    }
  }
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const own: OwnRedis = {
    url,
    async start() {
      child = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--daemonize",
          "no",
        ],
        { stdio: "ignore" },
      );
      await ping(url, 10_000);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = once(c, "exit");
      c.kill("SIGTERM");
      await exited;
    },
    async flushAll() {
      const r = new Redis(url);
      r.on("error", () => {});
      try {
        await r.flushall();
      } finally {
        r.disconnect();
      }
    },
  };
  await own.start();
  return own;
}
