import { availableParallelism } from "node:os";
import {
  commonSpec,
  databaseSpec,
  duration,
  int,
  list,
  natsSpec,
  parseConfig,
  redisSpec,
  str,
} from "@filemesh/kit";

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
  /** Concurrent hashes (defaults to the libuv thread pool size). */
  /**
   * Concurrent hashes. Default: the CPU count — more threads than cores add no throughput and
   * only take time from the event loop (health checks, shedding answers).
   */
  hashConcurrency: int("HASH_CONCURRENCY", { default: Math.max(1, availableParallelism()), min: 1, max: 64 }),
  /** Hashes allowed to wait; beyond this, logins are shed with RESOURCE_EXHAUSTED. */
  hashQueue: int("HASH_QUEUE", { default: 64, min: 0, max: 100_000 }),
  adminEmails: list("ADMIN_EMAILS", { default: [] }),
  /** Failed logins allowed per account before delays start (4× per client address). */
  loginFreeAttempts: int("LOGIN_FREE_ATTEMPTS", { default: 5, min: 1, max: 100 }),
  loginBackoffBaseMs: duration("LOGIN_BACKOFF_BASE", { default: 1_000 }),
  loginBackoffMaxMs: duration("LOGIN_BACKOFF_MAX", { default: 15 * 60_000 }),
};

export type AuthConfig = ReturnType<typeof loadAuthConfig>;

export function loadAuthConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(authSpec, env);
  if (config.passwordPepper.length < 32) {
    throw new Error("invalid configuration:\n  - PASSWORD_PEPPER must be at least 32 characters");
  }
  return config;
}
