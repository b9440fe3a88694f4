// One run's names on the shared NATS and Redis, so runs on the same servers — `npm start`, the
// tests, a bench, two test meshes — keep to themselves (empty in production):
//   RUN_PREFIX    NATS: with `p` a stream is `p_AUTH`, a subject `p.filemesh.auth.user_registered`,
//                 a durable consumer `p_user-profiles`. Events start in a database's outbox
//                 tables, so every service on one database must use the same RUN_PREFIX.
//   REDIS_PREFIX  Redis: a key is `p:fm:lf:c:…`; defaults to RUN_PREFIX. Test meshes on one
//                 database each take their own, so failed-login counters are not shared.
// Code keeps using the plain names; the kit's helpers (ensureStreams, startRelay, runConsumer,
// createRedis) apply the prefixes, and consumers see the plain subject again.
import type { Field } from "./config.js";

const PATTERN = /^[a-z][a-z0-9]{0,23}$/;

/** Lower-case letters and digits, starting with a letter, at most 24; empty = none. */
export function runPrefixField(env: "RUN_PREFIX" | "REDIS_PREFIX"): Field<string> {
  return {
    env,
    default: "",
    doc: `isolates this run on shared ${env === "RUN_PREFIX" ? "NATS" : "Redis"}; empty in production`,
    parse(raw) {
      const v = raw.trim();
      if (!PATTERN.test(v))
        throw new Error("must be 1-24 lower-case letters or digits, starting with a letter");
      return v;
    },
  };
}

/** A fresh prefix for a run that must not meet any other (tests, `npm start`, benches). */
export const newRunPrefix = (tag = "r"): string =>
  `${tag}${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`.slice(0, 24);

export function checkRunPrefix(prefix: string): string {
  if (prefix !== "" && !PATTERN.test(prefix)) throw new Error(`invalid run prefix ${JSON.stringify(prefix)}`);
  return prefix;
}

/** Stream and durable consumer names (no dots allowed there). */
export const runName = (prefix: string, name: string): string =>
  prefix ? `${checkRunPrefix(prefix)}_${name}` : name;

/** A subject or subject filter. */
export const runSubject = (prefix: string, subject: string): string =>
  prefix ? `${checkRunPrefix(prefix)}.${subject}` : subject;

/** The plain subject of a message received under `prefix`. */
export const plainSubject = (prefix: string, subject: string): string =>
  prefix && subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : subject;

/** The Redis prefix of a service's config: REDIS_PREFIX, else RUN_PREFIX. */
export const redisPrefixOf = (c: { runPrefix: string; redisPrefix: string }): string =>
  c.redisPrefix || c.runPrefix;

/** The ioredis `keyPrefix` for a run (keys named inside Lua scripts must add it themselves). */
export const runKeyPrefix = (prefix: string): string => (prefix ? `${checkRunPrefix(prefix)}:` : "");
