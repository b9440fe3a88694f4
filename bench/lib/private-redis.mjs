// A throw-away redis-server for in-process scenarios and private meshes, on a free port, no
// persistence, so the shared Redis on 6379 (tests, the mesh) is neither disturbed nor measured.
import { execFileSync } from "node:child_process";
import { spawnServer } from "./exec.mjs";
import { freePort } from "./private-servers.mjs";

/** Resolves with { url, port, pid, argv, stop }. */
export async function startPrivateRedis({ dir }) {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--dir", dir, "--daemonize", "no", "--loglevel", "warning");
  const ping = async () =>
    execFileSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8", stdio: "pipe" }).trim() ===
    "PONG";
  const { child, stop } = await spawnServer("redis-server", args, { ready: ping });
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, argv: ["redis-server", ...args], stop };
}
