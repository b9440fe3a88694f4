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
