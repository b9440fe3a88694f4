// The one write path. Every write (WriteRelations, CreateGrant, DeleteGrant) runs here:
// serialised in-process, then in one transaction that takes the writer lock (acl.meta row)
// and the next revision, replays a known request id, brings the local index up to the last
// commit (so authorisation decided inside the write is never stale), plans and writes the
// tuples, refuses cycles, appends the change and its events, commits — then applies the change
// locally and appends it to the Redis stream before answering.
import { createHash } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import { appendEvents, inTransaction, invalidArgument } from "@filemesh/kit";
import type pg from "pg";
import { findRequest, insertChange, nextRevision, type Q, type StoredRequest } from "../store/change-log.js";
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
  /** What to write, decided with the lock held and the index current; may throw AppError. */
  plan(tx: Q, revision: number): Promise<RequestedUpdate[]>;
  respond(revision: number, effective: EffectiveUpdate[], state: TupleState): R;
  encode(response: R): Uint8Array;
  decode(bytes: Uint8Array): R;
}

export type Writer = <R>(spec: WriteSpec<R>) => Promise<R>;

class Replay {
  constructor(readonly stored: StoredRequest) {}
}

export const fingerprint = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value)).digest("base64url");

export function createWriter(deps: { pool: pg.Pool; sync: IndexSync }): Writer {
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const attempt = async <R>(spec: WriteSpec<R>): Promise<{ response: R; published?: Promise<void> }> => {
    const requestKey = spec.requestId ? `${spec.caller}/${spec.requestId}` : null;
    const { response, change } = await inTransaction(deps.pool, async (tx) => {
      // Short statements on indexes: JIT compilation would cost more than it saves.
      await tx.query("SET LOCAL jit = off");
      const revision = await nextRevision(tx);
      if (requestKey) {
        const stored = await findRequest(tx, requestKey);
        if (stored) throw new Replay(stored);
      }
      await deps.sync.catchUp(tx);
      const requested = await spec.plan(tx, revision);
      const state = await loadTuples(tx, requested);
      const effective = planUpdates(state, requested);
      await writeRows(tx, state, revision, spec.caller);
      await refuseCycles(tx, ...newEdges(effective));
      const change = permissionv1.Change.fromPartial({
        revision: String(revision),
        commitTime: new Date(),
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
      const response = spec.respond(revision, effective, state);
      await insertChange(tx, {
        change,
        requestKey,
        requestHash: requestKey ? spec.fingerprint : null,
        response: requestKey ? spec.encode(response) : null,
      });
      await appendEvents(tx, "acl", grantEvents(effective, revision, spec.event));
      return { response, change };
    });
    deps.sync.offer(change);
    // Sent now, in commit order on one connection; awaited outside the queue.
    return { response, published: deps.sync.publish(change) };
  };

  return (spec) => {
    if (spec.requestId && !REQUEST_ID.test(spec.requestId)) {
      throw invalidArgument("INVALID_REQUEST_ID", "request_id must be 1-128 of A-Z a-z 0-9 . _ : -", [
        { field: "request_id", description: "malformed" },
      ]);
    }
    const done = serial(async () => {
      try {
        return await attempt(spec);
      } catch (err) {
        if (!(err instanceof Replay)) throw err;
        const { stored } = err;
        if (stored.requestHash !== spec.fingerprint || !stored.response) {
          throw invalidArgument("REQUEST_ID_REUSED", "this request id was used for a different request", [
            { field: "request_id", description: "reused with other content" },
          ]);
        }
        // The replayed answer is only given once this replica has applied that revision.
        await deps.sync.catchUp();
        return { response: spec.decode(stored.response) };
      }
    });
    return done.then(async ({ response, published }) => {
      await published;
      return response;
    });
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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
