import {
  commonSpec,
  databaseSpec,
  duration,
  int,
  natsSpec,
  parseConfig,
  redisSpec,
  str,
} from "@filemesh/kit";

export const permissionSpec = {
  ...commonSpec("permission"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  /** Prefix of the Redis keys (stream, snapshot); the database instance id follows it. */
  aclKeyPrefix: str("ACL_KEY_PREFIX", { default: "fm:acl" }),
  /** How often each replica reads the head revision from Postgres (the sync's safety net). */
  aclPollIntervalMs: duration("ACL_POLL_INTERVAL", { default: 1_000 }),
  /** Without a confirmation from Postgres for this long, reads fail closed (UNAVAILABLE). */
  aclMaxStalenessMs: duration("ACL_MAX_STALENESS", { default: 5_000 }),
  /** Longest wait for `min_revision` before UNAVAILABLE. */
  aclMinRevisionWaitMs: duration("ACL_MIN_REVISION_WAIT", { default: 2_000 }),
  aclSnapshotIntervalMs: duration("ACL_SNAPSHOT_INTERVAL", { default: 60_000 }),
  /** A new snapshot once the index is this many revisions past the last one. */
  aclSnapshotEvery: int("ACL_SNAPSHOT_EVERY", { default: 10_000, min: 1, max: 100_000_000 }),
  aclStreamMaxLen: int("ACL_STREAM_MAXLEN", { default: 100_000, min: 1_000, max: 100_000_000 }),
  /** Most WriteRelations calls group-committed in one transaction (1: one transaction per write). */
  aclWriteBatch: int("ACL_WRITE_BATCH", { default: 128, min: 1, max: 1_000 }),
};

export type PermissionConfig = ReturnType<typeof loadPermissionConfig>;

export function loadPermissionConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(permissionSpec, env);
  if (config.aclMaxStalenessMs <= config.aclPollIntervalMs) {
    throw new Error("invalid configuration:\n  - ACL_MAX_STALENESS must be longer than ACL_POLL_INTERVAL");
  }
  return config;
}
