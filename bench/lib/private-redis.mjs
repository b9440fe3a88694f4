// A throw-away redis-server for in-process scenarios, on a free port, no persistence, so the
// shared Redis on 6379 (tests, the mesh) is neither disturbed nor measured.
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { spawnServer } from "./exec.mjs";

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** Resolves with { url, port, argv, stop }. */
export async function startPrivateRedis({ dir }) {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--dir", dir, "--daemonize", "no", "--loglevel", "warning");
  const ping = async () =>
    execFileSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8", stdio: "pipe" }).trim() ===
    "PONG";
  const { stop } = await spawnServer("redis-server", args, { ready: ping });
  return { url: `redis://127.0.0.1:${port}`, port, argv: ["redis-server", ...args], stop };
}
