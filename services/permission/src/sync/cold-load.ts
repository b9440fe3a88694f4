// Cold start of an index: from the Redis snapshot when there is a usable one (same database
// instance, not ahead of Postgres), else from Postgres alone. Either way the caller then
// replays the change log after the loaded revision.
import type { Logger, Redis } from "@filemesh/kit";
import type pg from "pg";
import { type AclIndex, createAclIndex } from "../index/acl-index.js";
import { readHead } from "../store/change-log.js";
import { loadAllTuples } from "../store/tuple-reads.js";
import { type AclKeys, aclKeys } from "./change-stream.js";
import { readSnapshot } from "./snapshot.js";

export interface Loaded {
  index: AclIndex;
  instance: string;
  keys: AclKeys;
  source: "redis" | "postgres";
  ms: number;
}

export async function coldLoad(o: {
  pool: pg.Pool;
  redis: Redis;
  prefix: string;
  log: Logger;
  useSnapshot: boolean;
}): Promise<Loaded> {
  const started = performance.now();
  const head = await readHead(o.pool);
  const keys = aclKeys(o.prefix, head.instance);
  const done = (index: AclIndex, source: Loaded["source"]): Loaded => ({
    index,
    instance: head.instance,
    keys,
    source,
    ms: Math.round(performance.now() - started),
  });
  if (o.useSnapshot) {
    const index = createAclIndex();
    index.beginBulk();
    try {
      const header = await readSnapshot(o.redis, keys, head.instance, (t) => index.apply("touch", t));
      const latest = header && (await readHead(o.pool));
      if (header && latest && header.revision <= latest.revision) {
        index.endBulk();
        index.revision = header.revision;
        return done(index, "redis");
      }
      if (header) o.log.warn({ snapshot: header.revision }, "acl snapshot ahead of Postgres; ignored");
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "acl snapshot unusable; loading from Postgres");
    }
  }
  const index = createAclIndex();
  index.beginBulk();
  index.revision = await loadAllTuples(o.pool, (t) => index.apply("touch", t));
  index.endBulk();
  return done(index, "postgres");
}
