// The head revision as Postgres has it, read for callers waiting on a `min_revision` the index
// has not reached. The answer is only conclusive for a caller if the read started after the
// caller asked (a revision the client was given was committed before it asked, so such a read
// sees it). Every concurrent caller shares one read, and reads start at most once per
// `intervalMs` however many callers wait, so a flood of unknown revisions costs Postgres a
// bounded trickle instead of one query per call.
import { delay } from "./waiters.js";

export interface HeadCheck {
  /**
   * The head from a read that started at or after `since` (performance.now() time); undefined
   * when none could be had before `deadline` (epoch ms) or the read failed.
   */
  since(since: number, deadline: number): Promise<number | undefined>;
  /** Records a head read made elsewhere (the poll) that started at `startedAt`. */
  record(revision: number, startedAt: number): void;
}

export function createHeadCheck(o: {
  read(): Promise<number>;
  intervalMs: number;
  stopped(): boolean;
}): HeadCheck {
  let last = { revision: 0, startedAt: Number.NEGATIVE_INFINITY };
  let lastStart = Number.NEGATIVE_INFINITY;
  let inflight: { startedAt: number; done: Promise<boolean> } | undefined;

  const record = (revision: number, startedAt: number) => {
    if (startedAt > last.startedAt) last = { revision, startedAt };
  };
  const start = () => {
    const startedAt = performance.now();
    lastStart = startedAt;
    const done = o.read().then(
      (revision) => {
        record(revision, startedAt);
        return true;
      },
      () => false,
    );
    inflight = { startedAt, done };
    void done.finally(() => {
      if (inflight?.done === done) inflight = undefined;
    });
    return inflight;
  };

  return {
    record,
    async since(since, deadline) {
      while (!o.stopped()) {
        if (last.startedAt >= since) return last.revision;
        if (inflight) {
          // A read that started before this caller asked does not count; wait it out.
          const mine = inflight.startedAt >= since;
          const ok = await inflight.done;
          if (mine && !ok) return undefined;
          continue;
        }
        const wait = lastStart + o.intervalMs - performance.now();
        if (wait > 0) {
          if (Date.now() + wait > deadline) return undefined;
          await delay(wait);
          continue;
        }
        if (!(await start().done)) return undefined;
      }
      return undefined;
    },
  };
}
