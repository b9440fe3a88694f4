import { randomUUID } from "node:crypto";
import type { MethodInfo } from "@filemesh/contracts";
import type { Metadata } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";

/** Who is calling, once authenticated (filled by the auth middleware). */
export interface Principal {
  /** "user:<id>" for end users, "service:<name>" for mesh callers. */
  readonly subject: string;
  readonly userId?: string;
  readonly sessionId?: string;
  readonly admin?: boolean;
  /**
   * The mesh service that forwarded this user's call after checking the user itself (the
   * verified forwarder, auth/forwarded.ts): not re-limited here.
   */
  readonly forwardedBy?: string;
  /** When the user's access token expires (epoch ms); a forwarded principal lapses with it. */
  readonly expiresAt?: number;
  /**
   * The token verified but its session has ended: only on methods whose policy says
   * `ended_session_ok` (Logout), and refused by every caller helper but `callerSessionOrEnded`.
   */
  readonly sessionEnded?: boolean;
}

/** What every handler receives besides its request. */
export interface CallContext {
  readonly method: MethodInfo;
  readonly requestId: string;
  /**
   * Rate-limit tokens this call costs, from the method's cost hook given when the service was
   * registered (e.g. CheckBatch: its items); absent means 1.
   */
  readonly cost?: number;
  /** W3C traceparent of this call (incoming or started here); outgoing calls are its children. */
  traceparent?: string;
  readonly metadata: Metadata;
  /** Absolute deadline in epoch ms, if the caller set one. */
  readonly deadline?: number;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /**
   * Whether `signal` is aborted already (the caller cancelled), without making it: a signal
   * costs an AbortController, a deadline timer and a cancel listener on first use.
   */
  readonly aborted?: boolean;
  readonly peer: string;
  log: Logger;
  principal?: Principal;
  /**
   * Sets a response header (gRPC initial metadata), such as `content-disposition` on a
   * download. The headers go out with the first response message (or the unary response),
   * or earlier by sendHeader(); a call that fails before then answers with its status alone,
   * without them. Throws when they were already sent, for names the protocol owns
   * (`content-type`, `content-length`, `grpc-*`, hop-by-hop, binary `-bin`) and for values
   * that are not printable ASCII (so no CR/LF can reach a client).
   */
  setHeader(name: string, value: string): void;
  /** Sends the response headers now (once; later calls do nothing). */
  sendHeader(): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function metadataString(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === "string" ? v : undefined;
}

/** The caller's request id when well-formed, else a new one (never trust arbitrary bytes in logs). */
export function requestIdFrom(md: Metadata): string {
  const given = metadataString(md, "x-request-id");
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Remaining time before the deadline in ms (Infinity when none). */
export function remainingMs(ctx: Pick<CallContext, "deadline">, now = Date.now()): number {
  return ctx.deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, ctx.deadline - now);
}
