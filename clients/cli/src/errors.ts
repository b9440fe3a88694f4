// Exit codes, the CLI's own error type, and the translation of a gRPC error (its ErrorInfo
// reason from grpc-status-details-bin) into a message with a hint.
import { rpcDetails, rpcStatus } from "@filemesh/contracts";
import { type ServiceError, status } from "@grpc/grpc-js";

/** Documented in clients/cli/README.md; scripts depend on them. */
export const EXIT = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  AUTH: 3,
  NOT_FOUND: 4,
  CONFLICT: 5,
  INTERRUPTED: 130,
} as const;

export class CliError extends Error {
  constructor(
    readonly exit: number,
    readonly reason: string,
    message: string,
    readonly hint = "",
  ) {
    super(message);
  }
}

export const usage = (message: string, hint = "run `filemesh --help`") =>
  new CliError(EXIT.USAGE, "USAGE", message, hint);

const HINTS: Record<string, string> = {
  INVALID_CREDENTIALS: "check the email and password, then `filemesh login` again",
  NOT_LOGGED_IN: "run `filemesh login`",
  SESSION_EXPIRED: "your session ended; run `filemesh login`",
  PATH_NOT_FOUND: "check the path with `filemesh ls`",
  FILE_NOT_FOUND: "check the path with `filemesh ls` (or the trash for `restore`)",
  QUOTA_EXCEEDED: "free space (`filemesh usage`, `filemesh rm`) or ask for a larger quota",
  NAME_CONFLICT: "a file with that name exists there; pick another name",
  USER_NOT_FOUND: "the address must match a registered user exactly",
  PERMISSION_DENIED: "ask the owner to share it with you",
  RATE_LIMITED: "wait a moment and try again",
};

function exitOf(code: number): number {
  switch (code) {
    case status.UNAUTHENTICATED:
      return EXIT.AUTH;
    case status.NOT_FOUND:
      return EXIT.NOT_FOUND;
    case status.ALREADY_EXISTS:
    case status.ABORTED:
    case status.FAILED_PRECONDITION:
    case status.RESOURCE_EXHAUSTED:
      return EXIT.CONFLICT;
    case status.INVALID_ARGUMENT:
    case status.OUT_OF_RANGE:
      return EXIT.USAGE;
    default:
      return EXIT.ERROR;
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && "code" in err && "metadata" in err;
}

/** The ErrorInfo reason of a gRPC error ("" when the server sent none). */
export function reasonOf(err: ServiceError): string {
  const raw = err.metadata?.get("grpc-status-details-bin")[0];
  if (!raw || typeof raw === "string") return "";
  try {
    for (const d of rpcStatus.Status.decode(raw).details) {
      if (d.typeUrl.endsWith("google.rpc.ErrorInfo")) return rpcDetails.ErrorInfo.decode(d.value).reason;
    }
  } catch {}
  return "";
}

export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (isServiceError(err)) {
    const reason = reasonOf(err) || status[err.code] || "UNKNOWN";
    const hint =
      HINTS[reason] ??
      (err.code === status.UNAVAILABLE
        ? "is the server up? check --server / FILEMESH_SERVER and --plaintext"
        : "");
    return new CliError(exitOf(err.code), reason, err.details || err.message, hint);
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOENT")
    return new CliError(EXIT.NOT_FOUND, "LOCAL_NOT_FOUND", e.message, "check the local path");
  return new CliError(EXIT.ERROR, "ERROR", e?.message ?? String(err));
}
