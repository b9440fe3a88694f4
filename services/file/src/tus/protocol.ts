// tus 1.0.0 header parsing and the mapping of the mesh's errors to tus/HTTP statuses. Pure
// functions (unit-tested); the request flow is in handler.ts.
import { type AppError, appErrorOf, Code, type Reason } from "@filemesh/kit";

export const TUS_VERSION = "1.0.0";
export const TUS_EXTENSIONS =
  "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";
export const TUS_CHECKSUM_ALGORITHMS = "sha256";
export const OFFSET_CONTENT_TYPE = "application/offset+octet-stream";

/** A tus-level refusal: an HTTP status with a stable reason (like the mesh's ErrorInfo reasons). */
export class TusError extends Error {
  constructor(
    readonly status: number,
    readonly reason: Reason,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "TusError";
  }
}

const bad = (reason: Reason, message: string) => new TusError(400, reason, message);

const DIGITS = /^(0|[1-9][0-9]{0,17})$/;

/** Upload-Length / Upload-Offset: a non-negative decimal integer (at most 18 digits), else 400. */
export function parseNonNegative(header: NumericHeader, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!DIGITS.test(v)) throw bad(NUMERIC_HEADERS[header], `${header} must be a non-negative integer`);
  return BigInt(v);
}

const NUMERIC_HEADERS = {
  "Content-Length": "INVALID_CONTENT_LENGTH",
  "Upload-Length": "INVALID_UPLOAD_LENGTH",
  "Upload-Offset": "INVALID_UPLOAD_OFFSET",
} as const satisfies Record<string, Reason>;
type NumericHeader = keyof typeof NUMERIC_HEADERS;

/**
 * Upload-Metadata: comma-separated `key base64value` pairs (value optional). Keys are unique
 * ASCII without spaces or commas; values are decoded as UTF-8 (a name in any script survives).
 */
export function parseMetadata(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined || header.trim() === "") return out;
  if (header.length > 16 * 1024) throw bad("INVALID_METADATA", "Upload-Metadata is too long");
  for (const pair of header.split(",")) {
    const parts = pair.trim().split(" ");
    const [key, value = "", ...extra] = parts;
    if (!key || extra.length > 0 || !/^[\x21-\x7e]+$/.test(key)) {
      throw bad("INVALID_METADATA", "Upload-Metadata must be comma-separated `key base64value` pairs");
    }
    if (out.has(key)) throw bad("INVALID_METADATA", `Upload-Metadata repeats the key ${key}`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 === 1) {
      throw bad("INVALID_METADATA", `the value of ${key} is not base64`);
    }
    const bytes = Buffer.from(value, "base64");
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    try {
      out.set(key, text.decode(bytes));
    } catch {
      throw bad("INVALID_METADATA", `the value of ${key} is not UTF-8`);
    }
  }
  return out;
}

/** Upload-Checksum: `sha256 <base64 digest>`; another algorithm is 400 (only sha256 is offered). */
export function parseChecksum(header: string | undefined): Buffer | undefined {
  if (header === undefined) return undefined;
  const [algorithm, digest, ...extra] = header.trim().split(" ");
  if (algorithm?.toLowerCase() !== "sha256" || extra.length > 0) {
    throw bad("UNSUPPORTED_CHECKSUM_ALGORITHM", "Upload-Checksum must use sha256");
  }
  const bytes = Buffer.from(digest ?? "", "base64");
  if (bytes.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest ?? "")) {
    throw bad("INVALID_CHECKSUM", "Upload-Checksum must carry a base64 SHA-256 digest");
  }
  return bytes;
}

/** Only the exact protocol version is spoken; anything else is 412 with Tus-Version. */
export function checkResumable(value: string | undefined): void {
  if (value === undefined) {
    throw new TusError(412, "TUS_RESUMABLE_REQUIRED", "Tus-Resumable: 1.0.0 is required", {
      "Tus-Version": TUS_VERSION,
    });
  }
  if (value.trim() !== TUS_VERSION) {
    throw new TusError(412, "TUS_VERSION_UNSUPPORTED", `only tus ${TUS_VERSION} is supported`, {
      "Tus-Version": TUS_VERSION,
    });
  }
}

/** The HTTP status of a mesh error raised while serving a tus request. */
export function statusOf(err: AppError): number {
  switch (err.code) {
    case Code.INVALID_ARGUMENT:
      return err.reason === "CHECKSUM_MISMATCH" ? 460 : 400;
    case Code.NOT_FOUND:
      return 404;
    case Code.UNAUTHENTICATED:
      return 401;
    case Code.PERMISSION_DENIED:
      return 403;
    case Code.RESOURCE_EXHAUSTED:
      return err.reason === "QUOTA_EXCEEDED" || err.reason === "UPLOAD_TOO_LARGE" ? 413 : 429;
    case Code.FAILED_PRECONDITION:
      if (err.reason === "UPLOAD_EXPIRED") return 410;
      if (err.reason === "UPLOAD_ABORTED") return 404;
      return 409;
    case Code.ALREADY_EXISTS:
    case Code.ABORTED:
      return 409;
    case Code.UNAVAILABLE:
      return 503;
    default:
      return 500;
  }
}

export function asTusError(err: unknown): TusError | undefined {
  if (err instanceof TusError) return err;
  // A store fault (Postgres unreachable, its pool full, a lost race) is what a gRPC call would
  // answer: 503 / 409 with Retry-After, never a 500 (kit transientError).
  const app = appErrorOf(err);
  if (!app) return undefined;
  const status = statusOf(app);
  if (status === 500) return undefined;
  const headers: Record<string, string> = {};
  if (app.details.retryAfterMs)
    headers["Retry-After"] = String(Math.max(1, Math.ceil(app.details.retryAfterMs / 1000)));
  return new TusError(status, app.reason, app.message, headers);
}
