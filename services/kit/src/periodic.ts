// Background sweeps (re-drives, repairs): `fn` every `everyMs`, never two runs at once; a
// failed run is logged with `failed` and the next interval tries again.
import type { Logger } from "./logger.js";

/** Runs `fn` every `everyMs` (unref'd); the returned function stops it. */
export function startPeriodic(
  everyMs: number,
  fn: () => Promise<void>,
  log: Logger,
  failed: string,
): () => void {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await fn();
    } catch (err) {
      log.warn({ err: (err as Error).message }, failed);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
