// The mesh binds fixed ports; on a shared machine another run may hold some of them for a
// while. Wait for them to be free (briefly) instead of failing halfway through start-up.
import { createServer } from "node:net";

const isFree = (port, host = "127.0.0.1") =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });

/** Resolves when every port is free; rejects after `timeoutMs` naming the busy ones. */
export async function waitPortsFree(ports, { timeoutMs = 60_000, log = () => {} } = {}) {
  const end = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    const busy = [];
    for (const p of ports) if (!(await isFree(p))) busy.push(p);
    if (!busy.length) return;
    if (Date.now() >= end) {
      throw new Error(
        `ports still in use after ${timeoutMs / 1000}s: ${busy.join(", ")} ` +
          "(another mesh or test? stop it, or use --target for a running mesh)",
      );
    }
    if (!said) log(`waiting for ports ${busy.join(", ")} to be free`);
    said = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
