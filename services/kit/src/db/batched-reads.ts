// Reads asked during one turn of the event loop, sent as one statement (kit turnBatch): under
// load many callers' look-ups by key share one round trip, one socket write and one Postgres
// execution instead of paying one each (a download's look-up was ≈ 30 % of the file service's
// busy time before, bench/README.md stop 34). A lone read is sent as the single statement.
import { turnBatch } from "../turn-batch.js";
import { type CallScope, runInCallScope } from "./admission.js";

export interface BatchedReadsOptions<K, R> {
  /** What identifies a read: the same key asked twice in one turn is read once. */
  key(k: K): string;
  /** One read alone. */
  one(k: K): Promise<R | undefined>;
  /** Several different reads: their answers in the same order (undefined: nothing found). */
  many(ks: K[]): Promise<(R | undefined)[]>;
  /** Most reads in one statement (500). */
  max?: number;
}

/**
 * Returns `read(scope, k)`. The batch's statement runs in its one caller's call scope, or, for
 * several callers, as a call that lasts until the latest of their deadlines and that no one
 * caller's cancellation ends. A failed statement fails every caller of its batch. Callers of
 * the same key get the same answer object: treat it as read-only.
 */
export function batchedReads<K, R>(
  o: BatchedReadsOptions<K, R>,
): (scope: CallScope, k: K) => Promise<R | undefined> {
  interface Asked {
    scope: CallScope;
    k: K;
    resolve(r: R | undefined): void;
    reject(err: unknown): void;
  }
  const read = async (due: Asked[]): Promise<void> => {
    const index = new Map<string, number>();
    const at: number[] = [];
    const keys: K[] = [];
    for (const a of due) {
      const id = o.key(a.k);
      let i = index.get(id);
      if (i === undefined) {
        i = keys.length;
        index.set(id, i);
        keys.push(a.k);
      }
      at.push(i);
    }
    let answers: (R | undefined)[];
    try {
      answers = await runInCallScope(lastingScope(due), () =>
        keys.length === 1 ? o.one(keys[0]!).then((r) => [r]) : o.many(keys),
      );
    } catch (err) {
      for (const a of due) a.reject(err);
      return;
    }
    due.forEach((a, n) => {
      a.resolve(answers[at[n]!]);
    });
  };
  const ask = turnBatch<Asked>((due) => void read(due), o.max ?? 500);
  return (scope, k) => new Promise((resolve, reject) => ask({ scope, k, resolve, reject }));
}

/** The scope a batch runs in: its one caller's, or one outliving every caller's. */
function lastingScope(due: readonly { scope: CallScope }[]): CallScope {
  if (due.length === 1) return due[0]!.scope;
  let deadline: number | undefined = due[0]!.scope.deadline;
  for (const { scope } of due) {
    deadline =
      deadline === undefined || scope.deadline === undefined ? undefined : Math.max(deadline, scope.deadline);
  }
  return { deadline };
}
