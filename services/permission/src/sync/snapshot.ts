// The index snapshot in Redis, for a fast cold start. A pointer key holds a small JSON header
// naming a list of chunks (tab-separated tuples, one per line), so a new snapshot never mixes
// with one being read: the writer fills a fresh list, then swaps the pointer, and the old list
// expires a few minutes later. The dump walks the live index without pausing it; its header
// carries the revision at which the walk started, and a reader replays every change after
// that revision from Postgres, which repairs whatever moved during the walk.
import { randomUUID } from "node:crypto";
import type { Redis } from "@filemesh/kit";
import type { Tuple } from "../domain/model.js";
import type { AclIndex } from "../index/acl-index.js";
import type { AclKeys } from "./change-stream.js";

export interface SnapshotHeader {
  v: 1;
  instance: string;
  revision: number;
  tuples: number;
  chunks: number;
  list: string;
  createTime: string;
}

// Small chunks: each is built synchronously, so this bounds the pause a dump adds to checks.
const CHUNK = 2_000;
const OLD_LIST_TTL_MS = 5 * 60_000;

export async function writeSnapshot(
  redis: Redis,
  keys: AclKeys,
  instance: string,
  index: AclIndex,
): Promise<SnapshotHeader> {
  const revision = index.revision;
  const list = `${keys.snapshot}:${randomUUID()}`;
  let lines: string[] = [];
  let chunks = 0;
  let tuples = 0;
  const flush = async () => {
    await redis.rpush(list, lines.join("\n"));
    if (chunks === 0) await redis.pexpire(list, 3_600_000);
    chunks++;
    lines = [];
  };
  for (const t of index.tuples()) {
    lines.push(`${t.object}\t${t.relation}\t${t.subject}\t${t.expireAt}`);
    tuples++;
    // Each awaited push yields to the event loop, so checks keep flowing during a dump.
    if (lines.length >= CHUNK) await flush();
  }
  if (lines.length) await flush();
  const header: SnapshotHeader = {
    v: 1,
    instance,
    revision,
    tuples,
    chunks,
    list,
    createTime: new Date().toISOString(),
  };
  const old = await readHeader(redis, keys, instance).catch(() => undefined);
  await redis.multi().set(keys.snapshot, JSON.stringify(header)).persist(list).exec();
  if (old && old.list !== list) await redis.pexpire(old.list, OLD_LIST_TTL_MS);
  return header;
}

export async function readHeader(
  redis: Redis,
  keys: AclKeys,
  instance: string,
): Promise<SnapshotHeader | undefined> {
  const raw = await redis.get(keys.snapshot);
  if (!raw) return undefined;
  const h = JSON.parse(raw) as Partial<SnapshotHeader>;
  if (
    h.v !== 1 ||
    h.instance !== instance ||
    !Number.isSafeInteger(h.revision) ||
    typeof h.list !== "string"
  ) {
    return undefined;
  }
  return h as SnapshotHeader;
}

/**
 * Streams the snapshot's tuples into `onTuple`; undefined when there is none. Throws when it
 * is incomplete or malformed (the caller then discards what it loaded and uses Postgres).
 */
export async function readSnapshot(
  redis: Redis,
  keys: AclKeys,
  instance: string,
  onTuple: (t: Tuple) => void,
): Promise<SnapshotHeader | undefined> {
  const header = await readHeader(redis, keys, instance);
  if (!header) return undefined;
  let tuples = 0;
  for (let i = 0; i < header.chunks; i += 16) {
    const parts = await redis.lrange(header.list, i, i + 15);
    if (parts.length === 0) throw new Error("snapshot list is gone");
    for (const part of parts) {
      for (const line of part.split("\n")) {
        const f = line.split("\t");
        const expireAt = Number(f[3]);
        if (f.length !== 4 || !Number.isSafeInteger(expireAt)) throw new Error("malformed snapshot line");
        onTuple({ object: f[0]!, relation: f[1]!, subject: f[2]!, expireAt });
        tuples++;
      }
    }
  }
  if (tuples !== header.tuples)
    throw new Error(`snapshot has ${tuples} tuples, header says ${header.tuples}`);
  return header;
}
