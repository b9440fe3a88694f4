// The one write path. Every write (WriteRelations, CreateGrant, DeleteGrant) runs here, with
// group commit (issue 15 §3): writes queue in-process, and the writer runs one transaction at
// a time for the writes waiting — batchable writes (WriteRelations: their plan reads neither
// the index nor the database) share one transaction, any other write runs alone. The
// transaction takes the writer lock (acl.meta row), replays known request ids, brings the
// local index up to the last commit (so authorisation decided inside a write is never stale),
// and gives each write its own revision, head + 1, head + 2, … in queue order: plans,
// writes the tuples, refuses cycles, appends the changes and their events, commits — then
// applies the changes locally in order and appends them to the Redis stream before answering.
// A batch is written set-wise (one statement per step for all its writes); if any write of it
// fails, the batch is rolled back to a savepoint and replayed one write per savepoint, so a bad
// write fails alone and the others still commit in order, without gaps in the revisions.
import { permissionv1 } from "@filemesh/contracts";
import {
  AppError,
  appendEvents,
  beforeCommit,
  Code,
  inTransaction,
  requestIdOf,
  requestIdReused,
  settleAll,
} from "@filemesh/kit";
import type pg from "pg";
import { tupleKey } from "../domain/model.js";
import {
  findRequests,
  insertChanges,
  lockHead,
  type NewChange,
  type Q,
  type StoredRequest,
  setHead,
} from "../store/change-log.js";
import { refuseCycles } from "../store/cycles.js";
import {
  type EffectiveUpdate,
  loadTuples,
  planUpdates,
  type RequestedUpdate,
  type TupleState,
  writeRows,
} from "../store/tuple-writes.js";
import type { IndexSync } from "../sync/index-sync.js";
import { type EventContext, grantEvents } from "./grant-events.js";

export interface WriteSpec<R> {
  /** Scope of the request id and `creator` of new rows: the caller's subject. */
  caller: string;
  requestId: string;
  /** Canonical content of the request: a reused request id with other content is refused. */
  fingerprint: string;
  event: EventContext;
  /**
   * The plan reads neither the index nor the database (it returns fixed updates), so the write
   * may share a transaction with other such writes (group commit). Plans that decide on the
   * index or read rows run alone, after every earlier write is applied.
   */
  batchable?: boolean;
  /**
   * The caller's cancellation: a write whose caller went away (a crashed or timed-out peer)
   * before the writer lock was taken is dropped, never written later. Otherwise a write queued
   * here could land after the caller's retry, and after writes the caller made since, through
   * another replica (a "ghost" delete undoing a later add, found by test/faults).
   */
  signal?: AbortSignal;
  /**
   * The caller's deadline (epoch ms): a write still queued when it passes is dropped too, read
   * from the clock with the writer lock held — the signal's timer may run late on a busy loop.
   */
  deadline?: number | undefined;
  /** What to write, decided with the lock held and the index current; may throw AppError. */
  plan(tx: Q, revision: number): Promise<RequestedUpdate[]>;
  respond(revision: number, effective: EffectiveUpdate[], state: TupleState): R;
  encode(response: R): Uint8Array;
  decode(bytes: Uint8Array): R;
}

export type Writer = <R>(spec: WriteSpec<R>) => Promise<R>;

/** Most writes in one group commit. */
export const MAX_BATCH = 128;

// biome-ignore lint/suspicious/noExplicitAny: the queue holds writes of every response type
type AnySpec = WriteSpec<any>;

interface Pending {
  spec: AnySpec;
  requestKey: string | null;
  resolve(response: unknown): void;
  reject(err: unknown): void;
}

/** What one write of a batch came to inside the transaction. */
type Outcome =
  | { kind: "written"; change: permissionv1.Change; response: unknown }
  | { kind: "replay"; stored: StoredRequest }
  | { kind: "failed"; err: unknown };

export function createWriter(deps: { pool: pg.Pool; sync: IndexSync; maxBatch?: number }): Writer {
  const maxBatch = deps.maxBatch ?? MAX_BATCH;
  const queue: Pending[] = [];
  let running = false;

  /** The next batch: one non-batchable write, or consecutive batchable ones (no request key twice). */
  const takeBatch = (): Pending[] => {
    const first = queue.shift()!;
    if (!first.spec.batchable) return [first];
    const batch = [first];
    const keys = new Set(first.requestKey ? [first.requestKey] : []);
    while (batch.length < maxBatch) {
      const next = queue[0];
      if (!next?.spec.batchable || (next.requestKey && keys.has(next.requestKey))) break;
      if (next.requestKey) keys.add(next.requestKey);
      batch.push(queue.shift()!);
    }
    return batch;
  };

  const drain = async () => {
    try {
      while (queue.length) await runBatch(takeBatch());
    } finally {
      running = false;
    }
  };

  /**
   * Plans and writes `items` set-wise with revisions head + 1 … (all or nothing: throws on the
   * first failure of any of them).
   */
  const apply = async (tx: pg.PoolClient, head: number, items: readonly Pending[], commitTime: Date) => {
    const planned: RequestedUpdate[][] = [];
    for (const [i, it] of items.entries()) planned.push(await it.spec.plan(tx, head + i + 1));
    const state = await loadTuples(tx, planned.flat());
    const effective = planned.map((requested, i) => {
      const eff = planUpdates(state, requested);
      for (const u of eff) {
        const row = state.rows.get(tupleKey(u.tuple));
        if (!row) continue;
        row.revision = head + i + 1;
        if (!row.inDb && !row.creator) row.creator = items[i]!.spec.caller;
      }
      return eff;
    });
    const written = items.map((it, i) => {
      const revision = head + i + 1;
      const change = changeOf(revision, commitTime, effective[i]!);
      const response = it.spec.respond(revision, effective[i]!, state);
      return { change, response };
    });
    const changes = written.map(
      (w, i): NewChange => ({
        change: w.change,
        requestKey: items[i]!.requestKey,
        requestHash: items[i]!.requestKey ? items[i]!.spec.fingerprint : null,
        response: items[i]!.requestKey ? items[i]!.spec.encode(w.response) : null,
      }),
    );
    const events = items.flatMap((it, i) => grantEvents(effective[i]!, head + i + 1, it.spec.event));
    // The rows, the cycle check after them, the change log and the events: sent together, run
    // in this order (db/pipeline.ts); a cycle found fails the lot (its savepoint or transaction
    // rolls back).
    await settleAll([
      writeRows(tx, state, head + 1, items[0]!.spec.caller),
      refuseCycles(tx, ...newEdges(effective.flat())),
      insertChanges(tx, changes),
      appendEvents(tx, "acl", events),
    ]);
    return written;
  };

  const runBatch = async (batch: Pending[]): Promise<void> => {
    let outcomes: Outcome[];
    try {
      outcomes = await inTransaction(deps.pool, async (tx) => {
        // The writer lock, and JIT off for the rest of the transaction (short statements on
        // indexes: compiling would cost more than it saves), in one statement.
        // Sent together with the BEGIN: the lock, then the stored requests under it.
        const [head, stored] = await settleAll([
          lockHead(tx),
          findRequests(
            tx,
            batch.flatMap((it) => (it.requestKey ? [it.requestKey] : [])),
          ),
        ]);
        const commitTime = new Date(); // one per transaction, shared by its writes
        // An index already at the head (this replica made the last commit, or the stream
        // brought it) has nothing to read from acl.changes.
        if (deps.sync.index.revision < head) await deps.sync.catchUp(tx);
        // Checked with the writer lock held: a caller cancelled from here on had its write
        // ordered before any retry of it, which waits for this lock.
        const out: Outcome[] = batch.map((it) => {
          const s = it.requestKey ? stored.get(it.requestKey) : undefined;
          if (s) return { kind: "replay", stored: s };
          if (it.spec.signal?.aborted || (it.spec.deadline !== undefined && Date.now() >= it.spec.deadline))
            return { kind: "failed", err: callerGone() };
          return { kind: "failed", err: undefined };
        });
        const isFresh = (o: Outcome) => o.kind === "failed" && o.err === undefined;
        const fresh = batch.filter((_, i) => isFresh(out[i]!));
        const slots = out.flatMap((o, i) => (isFresh(o) ? [i] : []));
        let next = head;
        if (fresh.length === 1 && batch.length === 1) {
          // The common uncontended case: no savepoint; a failure rolls the transaction back.
          const [w] = await apply(tx, head, fresh, commitTime);
          out[0] = { kind: "written", ...w! };
          next = head + 1;
        } else if (fresh.length > 0) {
          let together: Awaited<ReturnType<typeof apply>> | undefined;
          if (fresh.length > 1) {
            // The savepoint goes with the batch's first statement, its release with the COMMIT.
            const saved = tx.query("SAVEPOINT batch");
            try {
              [, together] = await settleAll([saved, apply(tx, head, fresh, commitTime)]);
              beforeCommit(tx, tx.query("RELEASE SAVEPOINT batch"));
            } catch {
              await tx.query("ROLLBACK TO SAVEPOINT batch");
            }
          }
          if (together) {
            together.forEach((w, j) => {
              out[slots[j]!] = { kind: "written", ...w };
            });
            next = head + fresh.length;
          } else {
            // One write per savepoint: a bad write fails alone; the others keep their order.
            for (const [j, it] of fresh.entries()) {
              await tx.query("SAVEPOINT one");
              try {
                const [w] = await apply(tx, next, [it], commitTime);
                await tx.query("RELEASE SAVEPOINT one");
                out[slots[j]!] = { kind: "written", ...w! };
                next++;
              } catch (err) {
                await tx.query("ROLLBACK TO SAVEPOINT one");
                out[slots[j]!] = { kind: "failed", err };
              }
            }
          }
        }
        if (next > head) beforeCommit(tx, setHead(tx, next)); // with the COMMIT
        return out;
      });
    } catch (err) {
      for (const it of batch) it.reject(err);
      return;
    }
    // Committed: apply locally and publish in revision order, then answer.
    batch.forEach((it, i) => {
      const o = outcomes[i]!;
      if (o.kind === "written") {
        deps.sync.offer(o.change);
        const published = deps.sync.publish(o.change);
        published.then(() => it.resolve(o.response), it.reject);
      } else if (o.kind === "failed") {
        it.reject(o.err);
      } else {
        replay(it, o.stored).then(it.resolve, it.reject);
      }
    });
  };

  const replay = async (it: Pending, stored: StoredRequest): Promise<unknown> => {
    if (stored.requestHash !== it.spec.fingerprint || !stored.response) {
      throw requestIdReused();
    }
    // The replayed answer is only given once this replica has applied that revision.
    await deps.sync.catchUp();
    return it.spec.decode(stored.response);
  };

  return <R>(spec: WriteSpec<R>): Promise<R> => {
    requestIdOf(spec.requestId);
    return new Promise<R>((resolve, reject) => {
      const requestKey = spec.requestId ? `${spec.caller}/${spec.requestId}` : null;
      queue.push({ spec, requestKey, resolve: resolve as (r: unknown) => void, reject });
      if (!running) {
        running = true;
        void drain();
      }
    });
  };
}

function changeOf(
  revision: number,
  commitTime: Date,
  effective: readonly EffectiveUpdate[],
): permissionv1.Change {
  return permissionv1.Change.fromPartial({
    revision: String(revision),
    commitTime,
    updates: effective.map((u) => ({
      operation:
        u.op === "touch"
          ? permissionv1.RelationOperation.RELATION_OPERATION_TOUCH
          : permissionv1.RelationOperation.RELATION_OPERATION_DELETE,
      relation: {
        object: u.tuple.object,
        relation: u.tuple.relation,
        subject: u.tuple.subject,
        ...(u.tuple.expireAt ? { expireTime: new Date(u.tuple.expireAt) } : {}),
      },
    })),
  });
}

const callerGone = () => new AppError(Code.CANCELLED, "CANCELLED", "the call was cancelled before its write");

/** New parent edges [child, parent] and group-in-group edges [member, group] of a write. */
function newEdges(effective: readonly EffectiveUpdate[]): [[string, string][], [string, string][]] {
  const parents: [string, string][] = [];
  const groups: [string, string][] = [];
  for (const u of effective) {
    if (u.op !== "touch") continue;
    const t = u.tuple;
    if (t.relation === "parent") parents.push([t.object, t.subject]);
    else if ((t.relation === "member" || t.relation === "admin") && t.subject.startsWith("group:")) {
      groups.push([t.subject, t.object]);
    }
  }
  return [parents, groups];
}
