// The Redis side of the sync. Committed changes go to one stream whose entry ids are the
// revisions (`<revision>-0`), so a reader resumes from its index revision, entries can never
// be reordered, and an out-of-order append is refused by Redis (the replicas then fill that
// revision from Postgres like any other gap). Keys carry the database's instance id.
import { permissionv1 } from "@filemesh/contracts";
import type { Redis } from "@filemesh/kit";

export interface AclKeys {
  changes: string;
  /** Points at the current snapshot list (its key). */
  snapshot: string;
  snapshotLock: string;
}

export function aclKeys(prefix: string, instance: string): AclKeys {
  const base = `${prefix}:{${instance}}`;
  return { changes: `${base}:changes`, snapshot: `${base}:snapshot`, snapshotLock: `${base}:snapshot-lock` };
}

/** Appends one committed change (trimmed to about `maxLen` entries). */
export async function appendChange(
  redis: Redis,
  key: string,
  change: permissionv1.Change,
  maxLen: number,
): Promise<void> {
  const bytes = Buffer.from(permissionv1.Change.encode(change).finish());
  await redis.xadd(key, "MAXLEN", "~", String(maxLen), `${change.revision}-0`, "c", bytes.toString("base64"));
}

export interface StreamEntry {
  revision: number;
  /** Undefined when the entry cannot be decoded (then filled from Postgres like a gap). */
  change: permissionv1.Change | undefined;
}

/**
 * Entries after `afterRevision`, waiting up to `blockMs` for some (empty on time-out).
 * Use a connection of its own: a blocking read holds it.
 */
export async function readChangesAfter(
  redis: Redis,
  key: string,
  afterRevision: number,
  blockMs: number,
  count: number,
): Promise<StreamEntry[]> {
  const res = (await redis.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", key, `${afterRevision}-0`)) as
    | [string, [string, string[]][]][]
    | null;
  const out: StreamEntry[] = [];
  for (const [, entries] of res ?? []) {
    for (const [id, fields] of entries) {
      const revision = Number.parseInt(id, 10);
      if (!Number.isSafeInteger(revision)) continue;
      out.push({ revision, change: decodeEntry(revision, fields) });
    }
  }
  return out;
}

function decodeEntry(revision: number, fields: string[]): permissionv1.Change | undefined {
  const i = fields.indexOf("c");
  if (i < 0 || i % 2 !== 0) return undefined;
  try {
    const change = permissionv1.Change.decode(Buffer.from(fields[i + 1] ?? "", "base64"));
    return Number(change.revision) === revision ? change : undefined;
  } catch {
    return undefined;
  }
}
