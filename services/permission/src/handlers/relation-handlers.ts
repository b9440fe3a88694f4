// Internal methods: WriteRelations (file service: parents, owner and link grants; user service:
// group memberships — each only on its own object type; and `forget`: every tuple naming a file
// or group its service deleted for good) and WatchChanges (the change log as a stream, from
// Postgres, woken by the index advancing).
import { permissionv1 } from "@filemesh/contracts";
import {
  AppError,
  type CallContext,
  Code,
  type FieldViolation,
  fingerprintOf,
  invalidArgument,
  permissionDenied,
} from "@filemesh/kit";
import type pg from "pg";
import { parseRef, validateRelation } from "../domain/refs.js";
import { readChanges } from "../store/change-log.js";
import { advanceFences } from "../store/fences.js";
import { tuplesNaming } from "../store/tuple-reads.js";
import type { RequestedUpdate } from "../store/tuple-writes.js";
import type { IndexSync } from "../sync/index-sync.js";
import type { Writer } from "../write/writer.js";
import { readyToRead, revisionOf } from "./request.js";

export const MAX_UPDATES = 1000;

/** Which object type each internal caller may write. */
const SCOPE: Record<string, string> = { "service:file": "file:", "service:user": "group:" };

const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;

export function parseUpdates(
  updates: permissionv1.RelationUpdate[],
  caller: string,
  forgetting = 0,
): RequestedUpdate[] {
  if ((updates.length === 0 && forgetting === 0) || updates.length > MAX_UPDATES) {
    throw invalidArgument("INVALID_UPDATES", `between 1 and ${MAX_UPDATES} updates per call`, [
      { field: "updates", description: `${updates.length} updates` },
    ]);
  }
  const violations: FieldViolation[] = [];
  const out: RequestedUpdate[] = [];
  updates.forEach((u, i) => {
    if (u.operation !== TOUCH && u.operation !== DELETE) {
      violations.push({
        field: `updates[${i}].operation`,
        description: "TOUCH or DELETE",
        reason: "INVALID",
      });
    }
    const r = validateRelation(
      u.relation ?? { object: "", relation: "", subject: "" },
      `updates[${i}].relation`,
    );
    if (r.violations.length || !("tuple" in r)) violations.push(...r.violations);
    else out.push({ op: u.operation === DELETE ? "delete" : "touch", tuple: r.tuple });
  });
  if (violations.length) throw invalidArgument("INVALID_RELATION", "invalid relation updates", violations);
  const scope = SCOPE[caller];
  if (!scope || out.some((u) => !u.tuple.object.startsWith(scope))) {
    throw permissionDenied("OUT_OF_SCOPE", `${caller} may only write relations of its own objects`);
  }
  return out;
}

/**
 * The objects a write forgets: at most MAX_UPDATES refs, each of the caller's own object type
 * (a file for the file service, a group for the user service), without duplicates.
 */
export function parseForget(forget: readonly string[], caller: string): string[] {
  if (forget.length > MAX_UPDATES) {
    throw invalidArgument("INVALID_UPDATES", `at most ${MAX_UPDATES} objects to forget per call`, [
      { field: "forget", description: `${forget.length} objects` },
    ]);
  }
  const violations: FieldViolation[] = [];
  forget.forEach((ref, i) => {
    const r = parseRef(ref);
    if (!r || (r.type !== "file" && r.type !== "group")) {
      violations.push({
        field: `forget[${i}]`,
        description: 'must be "file:<id>" or "group:<id>"',
        reason: "INVALID",
      });
    }
  });
  if (violations.length) throw invalidArgument("INVALID_RELATION", "invalid objects to forget", violations);
  const scope = SCOPE[caller];
  if (forget.length && (!scope || forget.some((ref) => !ref.startsWith(scope)))) {
    throw permissionDenied("OUT_OF_SCOPE", `${caller} may only forget its own objects`);
  }
  return [...new Set(forget)];
}

/** Every object a write changes: its updates' objects and the objects it forgets. */
function fencedObjects(planned: readonly RequestedUpdate[], forget: readonly string[]): string[] {
  return [...new Set([...planned.map((u) => u.tuple.object), ...forget])].sort();
}

const staleWrite = () =>
  new AppError(
    Code.ABORTED,
    "STALE_WRITE",
    "a later write of these objects was applied already (a greater fencing token)",
  );

export function createRelationHandlers(deps: {
  sync: IndexSync;
  pool: pg.Pool;
  write: Writer;
  /** Aborted when the service starts shutting down (ends open streams). */
  closing: AbortSignal;
}) {
  const { sync, write } = deps;
  return {
    async writeRelations(
      req: permissionv1.WriteRelationsRequest,
      ctx: CallContext,
    ): Promise<permissionv1.WriteRelationsResponse> {
      const caller = ctx.principal?.subject ?? "";
      const forget = parseForget(req.forget, caller);
      const updates = parseUpdates(req.updates, caller, forget.length);
      const token = revisionOf(req.fencingToken, "fencing_token");
      await readyToRead(sync, "", ctx);
      const fingerprint = token
        ? fingerprintOf({ updates, forget, token })
        : fingerprintOf(forget.length ? { updates, forget } : updates);
      return write({
        caller,
        requestId: req.requestId,
        fingerprint,
        event: { actor: caller, requestId: ctx.requestId, traceparent: ctx.traceparent },
        // Fixed updates share a group commit; a forget reads the rows naming its objects.
        batchable: forget.length === 0,
        signal: ctx.signal,
        deadline: ctx.deadline,
        // Read under the writer's lock, so a tuple written meanwhile naming the object goes too.
        plan: async (tx) => {
          const planned = forget.length
            ? [
                ...updates,
                ...(await tuplesNaming(tx, forget)).map((tuple) => ({ op: "delete" as const, tuple })),
              ]
            : updates;
          // A fenced write refused here writes nothing: its savepoint or transaction rolls back.
          if (token && !(await advanceFences(tx, fencedObjects(planned, forget), token))) throw staleWrite();
          return planned;
        },
        respond: (revision) => ({ revision: String(revision) }),
        encode: (r) => permissionv1.WriteRelationsResponse.encode(r).finish(),
        decode: (b) => permissionv1.WriteRelationsResponse.decode(b),
      });
    },

    async *watchChanges(
      req: permissionv1.WatchChangesRequest,
      ctx: CallContext,
    ): AsyncIterable<permissionv1.WatchChangesResponse> {
      await readyToRead(sync, "", ctx);
      let cursor = revisionOf(req.afterRevision, "after_revision") || sync.index.revision;
      const done = () => ctx.signal.aborted || deps.closing.aborted;
      while (!done()) {
        const changes = await readChanges(deps.pool, cursor, 500);
        for (const change of changes) {
          if (done()) return;
          yield { change };
          cursor = Number(change.revision);
        }
        if (changes.length === 0) await advanceOrTimeout(sync, deps.closing, ctx.signal, cursor);
      }
    },
  };
}

/** Resolves when the index passes `cursor`, after a second, or when either signal aborts. */
function advanceOrTimeout(sync: IndexSync, ...args: [AbortSignal, AbortSignal, number]): Promise<void> {
  const [closing, call, cursor] = args;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      unsubscribe();
      closing.removeEventListener("abort", finish);
      call.removeEventListener("abort", finish);
      resolve();
    };
    const unsubscribe = sync.onAdvance(() => {
      if (sync.index.revision > cursor) finish();
    });
    const timer = setTimeout(finish, 1000);
    closing.addEventListener("abort", finish);
    call.addEventListener("abort", finish);
  });
}
