// Typed application errors and their mapping to gRPC status + google.rpc.Status details
// (carried in `grpc-status-details-bin`). Handlers throw AppError; the server wrapper maps it.
// Anything else becomes INTERNAL with a generic message (and is logged by the wrapper).

import { type anypb, rpcDetails, rpcStatus } from "@filemesh/contracts";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { Reason } from "./error-catalogue.js";

export const Code = status;
export type Code = status;

export interface FieldViolation {
  field: string;
  description: string;
  reason?: string;
}

export interface ErrorDetails {
  /** Extra ErrorInfo metadata (string values only; never secrets). */
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
  retryAfterMs?: number;
  quotaViolations?: { subject: string; description: string }[];
}

export class AppError extends Error {
  constructor(
    readonly code: status,
    readonly reason: Reason,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const DEFAULT_ERROR_DOMAIN = "filemesh";

const pack = (typeUrl: string, value: Uint8Array): anypb.Any => ({ typeUrl, value: Buffer.from(value) });
const TYPE = "type.googleapis.com/google.rpc.";

/** Encodes an AppError as google.rpc.Status bytes (ErrorInfo always first). */
export function encodeStatusDetails(err: AppError, domain = DEFAULT_ERROR_DOMAIN): Buffer {
  const { details } = err;
  const any: anypb.Any[] = [
    pack(
      `${TYPE}ErrorInfo`,
      rpcDetails.ErrorInfo.encode({ reason: err.reason, domain, metadata: details.metadata ?? {} }).finish(),
    ),
  ];
  if (details.fieldViolations?.length) {
    any.push(
      pack(
        `${TYPE}BadRequest`,
        rpcDetails.BadRequest.encode(
          rpcDetails.BadRequest.fromPartial({
            fieldViolations: details.fieldViolations.map((v) => ({
              field: v.field,
              description: v.description,
              reason: v.reason ?? "",
            })),
          }),
        ).finish(),
      ),
    );
  }
  if (details.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.ceil(details.retryAfterMs));
    any.push(
      pack(
        `${TYPE}RetryInfo`,
        rpcDetails.RetryInfo.encode({
          retryDelay: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
        }).finish(),
      ),
    );
  }
  if (details.quotaViolations?.length) {
    any.push(
      pack(
        `${TYPE}QuotaFailure`,
        rpcDetails.QuotaFailure.encode(
          rpcDetails.QuotaFailure.fromPartial({ violations: details.quotaViolations }),
        ).finish(),
      ),
    );
  }
  return Buffer.from(
    rpcStatus.Status.encode({ code: err.code, message: err.message, details: any }).finish(),
  );
}

/** Turns anything thrown by a handler into a grpc-js ServiceError. */
/** Postgres SQLSTATEs and socket errors that mean "the database is busy or away; retry". */
const DB_AWAY = new Set([
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "08000",
  "08001",
  "08003",
  "08006",
  "ECONNREFUSED",
  "ECONNRESET",
]);
/** SQLSTATEs of a transaction that lost a race and rolled back: safe to retry as a whole. */
const DB_CONFLICT = new Set(["40001", "40P01"]);

/**
 * A store fault that is not the caller's doing and not a bug, as the status a client can act
 * on: a full connection pool or an unreachable Postgres is UNAVAILABLE with a retry hint (503
 * + Retry-After through the gateway, retried by the mesh), a serialization failure ABORTED.
 * Undefined for anything else (which stays a generic INTERNAL).
 */
export function transientError(err: unknown): AppError | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = String((err as { code?: unknown }).code ?? "");
  if (
    err.message === "timeout exceeded when trying to connect" || // pg-pool: no client within connectionTimeoutMillis
    err.name === "KnexTimeoutError" // MikroORM's pool
  ) {
    return unavailable("DATABASE_BUSY", "the service is busy; retry shortly", 1000);
  }
  // ioredis with its offline queue off or its retries spent: Redis is away (sessions, limits).
  if (
    err.name === "MaxRetriesPerRequestError" ||
    /^Connection is closed|^Stream isn't writeable|^Reached the max retries|^Command timed out/.test(
      err.message,
    )
  ) {
    return unavailable("REDIS_UNAVAILABLE", "Redis is unavailable; retry shortly", 1000);
  }
  if (
    DB_AWAY.has(code) ||
    /^Connection terminated|^Client has encountered a connection error/.test(err.message)
  ) {
    return unavailable("DATABASE_UNAVAILABLE", "the database is unavailable; retry shortly", 1000);
  }
  return conflictError(err);
}

/**
 * A transaction that lost a race (deadlock or serialization failure, rolled back) as ABORTED
 * CONFLICT_RETRY: the caller may retry the whole call. Undefined for anything else.
 */
export function conflictError(err: unknown): AppError | undefined {
  if (!DB_CONFLICT.has(String((err as { code?: unknown } | null)?.code ?? ""))) return undefined;
  return new AppError(status.ABORTED, "CONFLICT_RETRY", "a concurrent change got in the way; retry", {
    retryAfterMs: 100,
  });
}

/** The caller went away (its call's signal aborts with this). */
export const callCancelled = () => new AppError(status.CANCELLED, "CANCELLED", "the call was cancelled");
/** The call's deadline passed (its signal aborts with this). */
export const deadlinePassed = () =>
  new AppError(status.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the call's deadline passed");

/**
 * What a caller gets for `err`: itself, an abort for the call's own reason (an AbortError whose
 * cause is the call's CANCELLED / DEADLINE_EXCEEDED, e.g. from `events.once(…, { signal })`),
 * or a store fault as its retryable status; undefined otherwise (INTERNAL).
 */
export const appErrorOf = (err: unknown): AppError | undefined => {
  if (err instanceof AppError) return err;
  if (err instanceof Error && err.name === "AbortError" && err.cause instanceof AppError) return err.cause;
  return transientError(err);
};

export function toServiceError(err: unknown, domain = DEFAULT_ERROR_DOMAIN): Partial<ServiceError> {
  const app = appErrorOf(err) ?? internal();
  const metadata = new Metadata();
  metadata.set("grpc-status-details-bin", encodeStatusDetails(app, domain));
  return { code: app.code, details: app.message, metadata };
}

/** Decoded error of an outgoing call (client side), with the reason of its ErrorInfo. */
export interface DecodedError {
  code: status;
  message: string;
  reason: string;
  domain: string;
  metadata: Record<string, string>;
  fieldViolations: FieldViolation[];
  retryAfterMs?: number;
}

export function decodeServiceError(err: Partial<ServiceError>): DecodedError {
  const out: DecodedError = {
    code: err.code ?? status.UNKNOWN,
    message: err.details ?? err.message ?? "",
    reason: "",
    domain: "",
    metadata: {},
    fieldViolations: [],
  };
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!raw || typeof raw === "string") return out;
  let st: rpcStatus.Status;
  try {
    st = rpcStatus.Status.decode(raw);
  } catch {
    return out;
  }
  for (const d of st.details) {
    const name = d.typeUrl.slice(d.typeUrl.lastIndexOf("/") + 1);
    if (name === "google.rpc.ErrorInfo") {
      const info = rpcDetails.ErrorInfo.decode(d.value);
      out.reason = info.reason;
      out.domain = info.domain;
      out.metadata = info.metadata;
    } else if (name === "google.rpc.BadRequest") {
      out.fieldViolations = rpcDetails.BadRequest.decode(d.value).fieldViolations.map((v) => ({
        field: v.field,
        description: v.description,
        reason: v.reason,
      }));
    } else if (name === "google.rpc.RetryInfo") {
      const delay = rpcDetails.RetryInfo.decode(d.value).retryDelay;
      if (delay) out.retryAfterMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
    }
  }
  return out;
}

// Constructors for the common cases; reasons are stable UPPER_SNAKE_CASE strings.
export const invalidArgument = (reason: Reason, message: string, fieldViolations: FieldViolation[] = []) =>
  new AppError(status.INVALID_ARGUMENT, reason, message, { fieldViolations });
export const notFound = (reason: Reason, message: string) => new AppError(status.NOT_FOUND, reason, message);
export const alreadyExists = (reason: Reason, message: string) =>
  new AppError(status.ALREADY_EXISTS, reason, message);
export const permissionDenied = (reason: Reason, message: string) =>
  new AppError(status.PERMISSION_DENIED, reason, message);
export const unauthenticated = (reason: Reason, message = "authentication required") =>
  new AppError(status.UNAUTHENTICATED, reason, message);
export const failedPrecondition = (reason: Reason, message: string) =>
  new AppError(status.FAILED_PRECONDITION, reason, message);
export const unavailable = (reason: Reason, message: string, retryAfterMs?: number) =>
  new AppError(status.UNAVAILABLE, reason, message, retryAfterMs === undefined ? {} : { retryAfterMs });
export const resourceExhausted = (reason: Reason, message: string, retryAfterMs: number) =>
  new AppError(status.RESOURCE_EXHAUSTED, reason, message, { retryAfterMs });
export const unimplemented = (what: string) =>
  new AppError(status.UNIMPLEMENTED, "NOT_IMPLEMENTED", `${what} is not implemented yet`);
export const internal = () => new AppError(status.INTERNAL, "INTERNAL", "internal error");
