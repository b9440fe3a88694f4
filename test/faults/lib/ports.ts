// Ports for a fault cluster's processes, chosen before they start and bound seconds later
// (replicas keep theirs across restarts). A port the kernel hands out for `listen(0)` comes
// from the ephemeral range (32768–60999 on Linux), where any outgoing connection — of the
// other fault suite running beside this one, say — may take it in the meantime (seen:
// EADDRINUSE for a file replica's HTTP port). These come from below that range, from a block
// of 500 per process (claimed below), so neither an outgoing connection nor the other suite
// takes them.
import { createServer, type Server } from "node:net";

const BASE = 20_000;
const BLOCK = 500;
const BLOCKS = 20;

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });

/**
 * This process's block, claimed by listening on its first port for as long as the process
 * lives: another worker (or suite) finds that port taken and claims the next block. Worker ids
 * (VITEST_POOL_ID) were not enough: in a full run, two fault suites side by side once drew
 * ports from one block (EADDRINUSE for a replica, a toxiproxy that never answered).
 */
let claim: Promise<{ next: number; end: number }> | undefined;
const claimBlock = async () => {
  for (let k = 0; k < BLOCKS; k++) {
    const first = BASE + k * BLOCK;
    const held = await new Promise<Server | undefined>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen(first, "127.0.0.1", () => resolve(srv));
    });
    if (held) {
      held.unref();
      return { next: first + 1, end: first + BLOCK };
    }
  }
  throw new Error(`no free port block in ${BASE}–${BASE + BLOCKS * BLOCK - 1}`);
};

/** The next port of this process's block that nothing listens on. */
export async function clusterPort(): Promise<number> {
  claim ??= claimBlock();
  const block = await claim;
  while (block.next < block.end) {
    const port = block.next++;
    if (await free(port)) return port;
  }
  throw new Error(`no free port left in ${block.end - BLOCK}–${block.end - 1}`);
}
