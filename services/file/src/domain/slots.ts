// Counted slots per user and per process for long-lived calls (open WatchFile streams): a call
// beyond either bound is refused at once with the error the caller names, never queued. Per
// process on purpose: what a stream holds (a poll loop, a connection) is per replica.
import type { AppError } from "@filemesh/kit";

export interface Slots {
  /** Takes a slot for `user` (or throws); call the returned function to free it (once counts). */
  take(user: string): () => void;
  /** Slots in use: in all, and of `user`. */
  inUse(user?: string): number;
}

export function createSlots(o: {
  perUser: number;
  perProcess: number;
  userFull: () => AppError;
  processFull: () => AppError;
}): Slots {
  const byUser = new Map<string, number>();
  let total = 0;
  return {
    take(user) {
      const mine = byUser.get(user) ?? 0;
      if (mine >= o.perUser) throw o.userFull();
      if (total >= o.perProcess) throw o.processFull();
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
