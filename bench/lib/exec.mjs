// Child processes of the runner (ghz, the raw bcrypt loop): run to completion collecting
// stdout, and remembered while they run so an interrupted bench can stop exactly them.
import { execFile } from "node:child_process";

const live = new Set();

/** Resolves with stdout; rejects with stderr in the message. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 1024 ** 3, ...opts }, (err, stdout, stderr) => {
      live.delete(child);
      if (err) reject(new Error(`${[cmd, ...args].join(" ")}: ${stderr?.trim() || err.message}`));
      else resolve(stdout);
    });
    live.add(child);
  });
}

/** Sends SIGTERM to the children still running (only those this module started). */
export function stopChildren() {
  for (const child of live) child.kill("SIGTERM");
}

/**
 * Starts a long-running child (a private redis-server) that stopChildren() also stops;
 * resolves with { child, stop } once `ready()` resolves true (polled every 100 ms).
 */
export async function spawnServer(cmd, args, { ready, timeoutMs = 10_000, ...opts }) {
  const { spawn } = await import("node:child_process");
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...opts });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  live.add(child);
  child.once("exit", () => live.delete(child));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited (${child.exitCode}): ${stderr.trim()}`);
    if (
      await Promise.resolve()
        .then(ready)
        .catch(() => false)
    )
      return { child, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${cmd} did not become ready in ${timeoutMs / 1000}s`);
}
