import { availableParallelism } from "node:os";
import {
  commonSpec,
  databaseSpec,
  duration,
  type Field,
  int,
  natsSpec,
  parseConfig,
  redisSpec,
  str,
} from "@filemesh/kit";

/** A setting that no longer exists: unset or empty is fine, any value is a config error. */
const removed = (env: string, why: string): Field<undefined> => ({
  env,
  optional: true,
  parse: () => {
    throw new Error(why);
  },
});

export const authSpec = {
  ...commonSpec("auth"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  /** Directory of PEM private keys (RS256); the last by name signs, all are published. */
  jwtKeysDir: str("JWT_KEYS_DIR", { doc: "directory of PEM signing keys" }),
  accessTokenTtlMs: duration("ACCESS_TOKEN_TTL", { default: 15 * 60_000 }),
  sessionAbsoluteMs: duration("SESSION_ABSOLUTE_TIMEOUT", { default: 30 * 86_400_000 }),
  /** HMAC key applied before bcrypt (at least 32 characters). */
  passwordPepper: str("PASSWORD_PEPPER", { secret: true, doc: "at least 32 characters" }),
  bcryptCost: int("BCRYPT_COST", { default: 10, min: 4, max: 15 }),
  /**
   * Concurrent hashes: threads of their own, below the event loop's priority
   * (domain/hash-workers.ts). Default: the CPU count — more threads than cores add no throughput.
   */
  hashConcurrency: int("HASH_CONCURRENCY", { default: Math.max(1, availableParallelism()), min: 1, max: 64 }),
  /** Hashes allowed to wait; beyond this, logins are shed with RESOURCE_EXHAUSTED. */
  hashQueue: int("HASH_QUEUE", { default: 64, min: 0, max: 100_000 }),
  /**
   * Removed: ADMIN_EMAILS made whoever registered a listed address an admin, and addresses are
   * not verified, so an outsider could claim it. Still set (non-empty) → a configuration error
   * that points to `npm run admin`, rather than silently ignoring what the operator asked for.
   */
  adminEmails: removed(
    "ADMIN_EMAILS",
    "is no longer supported: an e-mail address proves nothing (anyone can register it). " +
      "Unset it and grant admin to an account with `npm run admin -- grant <email or user id>` " +
      '(services/auth/README.md, "Admins")',
  ),
  /**
   * Failed logins allowed per account and client address before delays start; 4× that per
   * client address (any account) and per account from clients it has never logged in from
   * (domain/throttle.ts).
   */
  loginFreeAttempts: int("LOGIN_FREE_ATTEMPTS", { default: 5, min: 1, max: 100 }),
  loginBackoffBaseMs: duration("LOGIN_BACKOFF_BASE", { default: 1_000 }),
  loginBackoffMaxMs: duration("LOGIN_BACKOFF_MAX", { default: 15 * 60_000 }),
  /** An address stays known to an account this long after a successful login from it. */
  loginKnownClientMs: duration("LOGIN_KNOWN_CLIENT_TTL", { default: 30 * 86_400_000 }),
};

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export function loadAuthConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(authSpec, env);
  if (config.passwordPepper.length < 32) {
    throw new Error("invalid configuration:\n  - PASSWORD_PEPPER must be at least 32 characters");
  }
  return config;
}
