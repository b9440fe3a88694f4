import {
  blobSpec,
  bool,
  commonSpec,
  databaseSpec,
  duration,
  int,
  natsSpec,
  parseConfig,
  redisSpec,
} from "@filemesh/kit";

const MiB = 1024 * 1024;

export const fileSpec = {
  ...commonSpec("file"),
  ...databaseSpec(),
  ...redisSpec(),
  ...natsSpec(),
  ...blobSpec(),
  /**
   * The plain HTTP listener of the data plane (tus at /v1/tus/, services/file/src/http), on
   * GRPC_HOST; default gRPC port + 2000 (replica i: + 10·i like the gRPC port). 0: any free port.
   */
  httpPort: int("FILE_HTTP_PORT", { default: 52054, min: 0, max: 65535 }),
  /** Largest body of POST /v1/files:upload (UploadFile). */
  maxRawUploadBytes: int("MAX_RAW_UPLOAD_BYTES", { default: 32 * MiB, min: 1 }),
  /**
   * A raw upload's quota reservation is released by the janitor when its process has not
   * renewed it for this long (it renews every fifth of it while the body arrives): what a
   * replica killed mid-upload held comes back after at most this plus the janitor's interval.
   */
  reservationLeaseMs: duration("RAW_RESERVATION_LEASE", { default: 5 * 60_000 }),
  /**
   * A version still PROCESSING this long after its commit (or its last re-drive) gets its
   * file_uploaded event again (domain/redrive.ts): an event lost on the way to the processor
   * does not leave an acknowledged upload undecided. Off with FILES_READY_ON_COMMIT.
   */
  processingRedriveAfterMs: duration("PROCESSING_REDRIVE_AFTER", { default: 10 * 60_000 }),
  /** Largest declared size of an upload session. */
  maxUploadBytes: int("MAX_UPLOAD_BYTES", { default: 5 * 1024 * MiB, min: 1 }),
  /** Quota of a user without an explicit one. */
  defaultQuotaBytes: int("DEFAULT_QUOTA_BYTES", { default: 10 * 1024 * MiB, min: 0 }),
  /** Lifetime of presigned download and part URLs (capped at 15 minutes). */
  presignExpiryMs: duration("PRESIGN_EXPIRY", { default: 5 * 60_000 }),
  /** How long an upload session stays open (its quota stays reserved). */
  uploadExpiryMs: duration("UPLOAD_SESSION_EXPIRY", { default: 24 * 3_600_000 }),
  /** Part size of STREAM uploads and the default of PARTS uploads. */
  partBytes: int("UPLOAD_PART_BYTES", { default: 8 * MiB, min: 1 }),
  /** Open WatchFile streams on one replica: per user, and in all (beyond: RESOURCE_EXHAUSTED). */
  watchStreamsPerUser: int("WATCH_STREAMS_PER_USER", { default: 16, min: 1 }),
  watchStreamsPerProcess: int("WATCH_STREAMS_PER_PROCESS", { default: 1000, min: 1 }),
  /** How often an open WatchFile stream asks again whether its caller may still read the file. */
  watchRecheckMs: duration("WATCH_RECHECK_INTERVAL", { default: 5_000 }),
  /** Longest life of one WatchFile stream; it then ends (OK) and the client watches again. */
  watchMaxLifetimeMs: duration("WATCH_MAX_LIFETIME", { default: 10 * 60_000 }),
  /**
   * Mark files READY at commit instead of PROCESSING. Off in production: the processor checks
   * each upload and marks it READY or REJECTED. On for tests and deployments without it.
   */
  readyOnCommit: bool("FILES_READY_ON_COMMIT", { default: false }),
  /** Lifetime of a transfer ticket (data plane); the bytes must start moving within it. */
  ticketExpiryMs: duration("TRANSFER_TICKET_EXPIRY", { default: 60_000 }),
  /** Bytes per message of streamed downloads. */
  downloadChunkBytes: int("DOWNLOAD_CHUNK_BYTES", { default: 256 * 1024, min: 1024, max: 4 * MiB }),
  /** Most items one folder copy may create. */
  maxCopyItems: int("MAX_COPY_ITEMS", { default: 1000, min: 1 }),
  /**
   * Parts relayed through this process at once (UploadPart bodies, WriteUpload streams), per
   * user and in all; beyond them RESOURCE_EXHAUSTED + RetryInfo. A relayed UploadPart streams
   * (a few chunks in memory); a WriteUpload stream holds up to 2 × UPLOAD_PART_BYTES.
   */
  relayPartsPerUser: int("RELAY_PARTS_PER_USER", { default: 4, min: 1 }),
  relayPartsPerProcess: int("RELAY_PARTS_PER_PROCESS", { default: 16, min: 1 }),
  /**
   * Open upload sessions one user may hold at once (each a row and a multipart upload in the
   * store until it completes, is cancelled or expires); beyond it RESOURCE_EXHAUSTED
   * TOO_MANY_UPLOADS.
   */
  uploadSessionsPerUser: int("UPLOAD_SESSIONS_PER_USER", { default: 100, min: 1, max: 100_000 }),
  /**
   * Share-link password guesses: free failures per link and client address (the link as a
   * whole allows 4× that from everyone), then a doubling delay from the base, capped at the
   * max for one client and at the (short) link max for the link as a whole.
   */
  linkPasswordFreeAttempts: int("LINK_PASSWORD_FREE_ATTEMPTS", { default: 5, min: 1, max: 1000 }),
  linkPasswordBackoffBaseMs: duration("LINK_PASSWORD_BACKOFF_BASE", { default: 1000 }),
  linkPasswordBackoffMaxMs: duration("LINK_PASSWORD_BACKOFF_MAX", { default: 15 * 60_000 }),
  linkPasswordLinkBackoffMaxMs: duration("LINK_PASSWORD_LINK_BACKOFF_MAX", { default: 60_000 }),
};

/** Hard cap of presigned URL lifetimes whatever PRESIGN_EXPIRY says. */
export const PRESIGN_CAP_MS = 15 * 60_000;

export type FileConfig = ReturnType<typeof loadFileConfig>;

export function loadFileConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(fileSpec, env);
  return {
    ...config,
    presignExpiryMs: Math.min(config.presignExpiryMs, PRESIGN_CAP_MS),
    ticketExpiryMs: Math.min(Math.max(config.ticketExpiryMs, 1_000), PRESIGN_CAP_MS),
  };
}
