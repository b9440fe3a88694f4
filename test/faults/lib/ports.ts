// Ports for a fault cluster's processes, chosen before they start and bound seconds later
// (replicas keep theirs across restarts). A port the kernel hands out for `listen(0)` comes
// from the ephemeral range (32768–60999 on Linux), where any outgoing connection — of the
// other fault suite running beside this one, say — may take it in the meantime (seen:
// EADDRINUSE for a file replica's HTTP port). These come from below that range, from a block
// of 500 per vitest worker, so neither an outgoing connection nor the other suite takes them.
import { createServer } from "node:net";

const BASE = 20_000;
const BLOCK = 500;
const worker = Math.max(1, Number(process.env.VITEST_POOL_ID ?? 1) || 1);
let next = BASE + ((worker - 1) % 24) * BLOCK;
const end = next + BLOCK;

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });

/** The next port of this worker's block that nothing listens on. */
export async function clusterPort(): Promise<number> {
  while (next < end) {
    const port = next++;
    if (await free(port)) return port;
  }
  throw new Error(`no free port left in ${end - BLOCK}–${end - 1}`);
}
