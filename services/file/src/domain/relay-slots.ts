// How many parts this process relays at once, per user and in all. A slot is held for the
// whole transfer of a relayed part (UploadPart) or byte stream (WriteUpload); a call beyond
// either bound is refused at once with RESOURCE_EXHAUSTED + RetryInfo rather than queued, so
// a few parallel PUTs of one user can neither exhaust the pod's memory nor its S3 connections,
// and other users keep their share. Per process on purpose: memory is per pod.
import { resourceExhausted } from "@filemesh/kit";

export const RELAY_RETRY_MS = 1000;

export interface RelaySlots {
  /** Takes a slot for `user` (or throws); call the returned function exactly once to free it. */
  take(user: string): () => void;
  /** Slots in use: in all, and of `user`. */
  inUse(user?: string): number;
}

export function createRelaySlots(o: { perUser: number; perProcess: number }): RelaySlots {
  const byUser = new Map<string, number>();
  let total = 0;
  return {
    take(user) {
      const mine = byUser.get(user) ?? 0;
      if (mine >= o.perUser) {
        throw resourceExhausted(
          "TOO_MANY_PARTS_IN_FLIGHT",
          `at most ${o.perUser} parts of one user are relayed at once; retry when one is done`,
          RELAY_RETRY_MS,
        );
      }
      if (total >= o.perProcess) {
        throw resourceExhausted(
          "RELAY_BUSY",
          "too many parts are being relayed; retry shortly",
          RELAY_RETRY_MS,
        );
      }
      byUser.set(user, mine + 1);
      total++;
      let freed = false;
      return () => {
        if (freed) return;
        freed = true;
        total--;
        const left = (byUser.get(user) ?? 1) - 1;
        if (left > 0) byUser.set(user, left);
        else byUser.delete(user);
      };
    },
    inUse: (user) => (user === undefined ? total : (byUser.get(user) ?? 0)),
  };
}
