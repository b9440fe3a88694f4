import type { CallContext, OutboxEvent, PageTokens, Redis } from "@filemesh/kit";
import type pg from "pg";
import type { Hasher } from "../domain/hasher.js";
import type { Throttle } from "../domain/throttle.js";
import type { KeyRing, TokenSettings } from "../domain/tokens.js";
import type { SessionSettings } from "../store/sessions.js";

export interface AuthDeps {
  pool: pg.Pool;
  /** Read replica (DATABASE_READ_URL) for queries that tolerate lag, e.g. admin listings. */
  readPool: pg.Pool;
  redis: Redis;
  hasher: Hasher;
  throttle: Throttle;
  isCommonPassword: (p: string) => boolean;
  keys: () => KeyRing;
  tokens: TokenSettings;
  sessions: SessionSettings;
  /**
   * The caller's address as the trusted proxy saw it (the kit's clientAddress with
   * TRUST_FORWARDED_FOR and TRUSTED_PROXY_HOPS): what login throttling counts against.
   */
  clientOf: (ctx: CallContext) => string;
  /** Signs and checks the page tokens of ListUsers and ListSessions (kit paging). */
  pageTokens: PageTokens;
  /** Writes events in their own transaction (for changes that live in Redis). */
  emit: (events: OutboxEvent[], ctx: CallContext) => Promise<void>;
}
