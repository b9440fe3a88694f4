// Applies a write's requested updates to acl.tuples inside the writer's transaction and
// returns the effective updates (what the index and the change log replay): a touch first
// deletes the other relations of its family (one role per subject on a file, member or admin,
// one parent per file); a delete of an absent tuple and a touch that changes nothing vanish.

import { randomUUID } from "node:crypto";
import { settleAll } from "@filemesh/kit";
import { type Tuple, tupleKey } from "../domain/model.js";
import type { Op } from "../index/acl-index.js";
import type { Q } from "./change-log.js";

export interface RequestedUpdate {
  op: Op;
  tuple: Tuple;
}

export interface EffectiveUpdate {
  op: Op;
  tuple: Tuple;
  /** Row id (the grant id for role tuples). */
  id: string;
  /** A touch that created the row (not a change of expiry). */
  created: boolean;
}

export interface Row {
  tuple: Tuple;
  id: string;
  /** Creation of the stored row (null for a row this write creates). */
  createTime: Date | null;
  creator: string;
  inDb: boolean;
  present: boolean;
  dirty: boolean;
  /** Revision of the last write in a group commit that changed the row (else writeRows' own). */
  revision?: number;
}

/** Rows by tuple key, and by family slot: (object, subject) for roles and groups, object for parents. */
export interface TupleState {
  rows: Map<string, Row>;
  slots: Map<string, Row[]>;
}

const slotOf = (t: Tuple) => (t.relation === "parent" ? `${t.object}|parent` : `${t.object}|${t.subject}`);

function addRow(state: TupleState, row: Row): void {
  state.rows.set(tupleKey(row.tuple), row);
  const slot = slotOf(row.tuple);
  const list = state.slots.get(slot);
  if (list) list.push(row);
  else state.slots.set(slot, [row]);
}

export async function loadTuples(q: Q, requested: readonly RequestedUpdate[]): Promise<TupleState> {
  // Each slot asked for once: a tuple named twice (in one write, or by two writes of a group
  // commit) would otherwise load as two rows of one slot, and its touch would delete its twin.
  const pairSlots = new Map<string, Tuple>();
  const parentSlots = new Set<string>();
  for (const { tuple } of requested) {
    if (tuple.relation === "parent") parentSlots.add(tuple.object);
    else pairSlots.set(slotOf(tuple), tuple);
  }
  const pairs = [...pairSlots.values()];
  const parentOf = [...parentSlots];
  const cols = "t.object, t.relation, t.subject, t.id, t.expire_time, t.create_time, t.creator";
  type Stored = {
    object: string;
    relation: string;
    subject: string;
    id: string;
    expire_time: Date | null;
    create_time: Date;
    creator: string;
  };
  // LATERAL with a LIMIT: one index look-up per key, whatever the table's statistics say. The
  // pairs' rows and the parent edges' rows in one statement when the write has both (a new file).
  const parts: string[] = [];
  const values: string[][] = [];
  if (pairs.length) {
    values.push(
      pairs.map((t) => t.object),
      pairs.map((t) => t.subject),
    );
    parts.push(`SELECT ${cols} FROM unnest($1::text[], $2::text[]) AS k(o, s) CROSS JOIN LATERAL (
         SELECT ${cols} FROM acl.tuples t WHERE t.object = k.o AND t.subject = k.s AND t.relation <> 'parent' LIMIT 10
       ) t`);
  }
  if (parentOf.length) {
    values.push(parentOf);
    parts.push(`SELECT ${cols} FROM unnest($${values.length}::text[]) AS k(o) CROSS JOIN LATERAL (
         SELECT ${cols} FROM acl.tuples t WHERE t.object = k.o AND t.relation = 'parent' LIMIT 10
       ) t`);
  }
  const rows = parts.length ? (await q.query<Stored>(parts.join(" UNION ALL "), values)).rows : [];
  const state: TupleState = { rows: new Map(), slots: new Map() };
  for (const r of rows) {
    const expireAt = r.expire_time?.getTime() ?? 0;
    const tuple = { object: r.object, relation: r.relation, subject: r.subject, expireAt };
    const stored = { createTime: r.create_time, creator: r.creator };
    addRow(state, { tuple, id: r.id, ...stored, inDb: true, present: true, dirty: false });
  }
  return state;
}

/** The effective updates of `requested` against `state` (mutated to the final state). */
export function planUpdates(state: TupleState, requested: readonly RequestedUpdate[]): EffectiveUpdate[] {
  const out: EffectiveUpdate[] = [];
  const remove = (row: Row) => {
    row.present = false;
    row.dirty = true;
    out.push({ op: "delete", tuple: row.tuple, id: row.id, created: false });
  };
  for (const { op, tuple } of requested) {
    const key = tupleKey(tuple);
    const row = state.rows.get(key);
    if (op === "delete") {
      if (row?.present) remove(row);
      continue;
    }
    // Files hold only roles and parents, groups only memberships: a slot is one family.
    for (const other of state.slots.get(slotOf(tuple)) ?? []) {
      if (other.present && other !== row) remove(other);
    }
    if (row?.present && row.tuple.expireAt === tuple.expireAt) continue;
    const created = !row?.present;
    if (row) Object.assign(row, { tuple, present: true, dirty: true });
    const fresh = { createTime: null, creator: "", inDb: false, present: true, dirty: true };
    const next = row ?? { tuple, id: randomUUID(), ...fresh };
    if (!row) addRow(state, next);
    out.push({ op: "touch", tuple, id: next.id, created });
  }
  return out;
}

/**
 * Writes the final state of every row the plans touched: a row's own `revision` and `creator`
 * when a group commit set them (each write of the batch stamps the rows it changed), else
 * `revision` and `creator`.
 */
export async function writeRows(q: Q, state: TupleState, revision: number, creator: string): Promise<void> {
  const gone = [...state.rows.values()].filter((r) => r.dirty && !r.present && r.inDb);
  const kept = [...state.rows.values()].filter((r) => r.dirty && r.present);
  // Both statements sent together (in a transaction, one round trip: db/pipeline.ts), the
  // DELETE first: a touch replaces the other rows of its slot.
  const done: Promise<unknown>[] = [];
  if (gone.length) {
    done.push(q.query("DELETE FROM acl.tuples WHERE id = ANY($1::uuid[])", [gone.map((r) => r.id)]));
  }
  if (kept.length) {
    done.push(
      q.query(
        `INSERT INTO acl.tuples (object, relation, subject, id, expire_time, creator, revision)
       SELECT o, r, s, i, e, c, v FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::text[], $7::bigint[]) AS x(o, r, s, i, e, c, v)
       ON CONFLICT (object, relation, subject) DO UPDATE SET expire_time = EXCLUDED.expire_time, revision = EXCLUDED.revision`,
        [
          kept.map((r) => r.tuple.object),
          kept.map((r) => r.tuple.relation),
          kept.map((r) => r.tuple.subject),
          kept.map((r) => r.id),
          kept.map((r) => (r.tuple.expireAt ? new Date(r.tuple.expireAt) : null)),
          kept.map((r) => r.creator || creator),
          kept.map((r) => r.revision ?? revision),
        ],
      ),
    );
  }
  await settleAll(done);
}
