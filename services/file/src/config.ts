import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  blobSpec,
  bool,
  ConfigError,
  commonSpec,
  databaseSpec,
  duration,
  int,
  natsSpec,
  parseConfig,
  redisSpec,
  str,
  url,
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
   * A session's completion (COMPLETING) holds a lease it renews every third of this while it
   * assembles and commits: a replica killed mid-way leaves the session to the next request for
   * it (a retry, a tus HEAD) after at most this long.
   */
  completionLeaseMs: duration("COMPLETION_LEASE", { default: 30_000 }),
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
  /**
   * A CDN in front of the bucket (s3 driver only): download URLs are CloudFront signed URLs on
   * this base (https, no query) instead of presigned S3 GETs; uploads stay on S3. The three
   * CDN_* variables go together (cdnOf below).
   */
  cdnBaseUrl: url("CDN_BASE_URL", ["https"], { optional: true }),
  /** The id of the CloudFront public key (in the distribution's trusted key group) that verifies them. */
  cdnKeyPairId: str("CDN_KEY_PAIR_ID", { optional: true }),
  /** PEM file of the RSA private key (2048 bits or more) that signs them; its content is never logged. */
  cdnPrivateKeyFile: str("CDN_PRIVATE_KEY_FILE", { optional: true }),
};

/** The CDN that download URLs point at, checked at start-up (data/cdn.ts signs with it). */
export interface CdnConfig {
  /** Without a trailing slash. */
  baseUrl: string;
  keyPairId: string;
  /** A KeyObject: the config can be printed without the key in it. */
  privateKey: KeyObject;
}

/** Hard cap of presigned URL lifetimes whatever PRESIGN_EXPIRY says. */
export const PRESIGN_CAP_MS = 15 * 60_000;

export type FileConfig = ReturnType<typeof loadFileConfig>;

export function loadFileConfig(env: Record<string, string | undefined> = process.env) {
  const config = parseConfig(fileSpec, env);
  return {
    ...config,
    cdn: cdnOf(config),
    presignExpiryMs: Math.min(config.presignExpiryMs, PRESIGN_CAP_MS),
    ticketExpiryMs: Math.min(Math.max(config.ticketExpiryMs, 1_000), PRESIGN_CAP_MS),
  };
}

const CDN_VARS = ["CDN_BASE_URL", "CDN_KEY_PAIR_ID", "CDN_PRIVATE_KEY_FILE"] as const;

/** CDN_*: all three or none, s3 only, a plain https base, a key id, a readable RSA private key. */
function cdnOf(c: ReturnType<typeof parseConfig<typeof fileSpec>>): CdnConfig | undefined {
  const given = [c.cdnBaseUrl, c.cdnKeyPairId, c.cdnPrivateKeyFile];
  if (given.every((v) => v === undefined)) return undefined;
  const problems: string[] = [];
  const missing = CDN_VARS.filter((_, i) => given[i] === undefined);
  if (missing.length > 0) problems.push(`${CDN_VARS.join(", ")} go together: ${missing.join(", ")} missing`);
  if (c.blobDriver !== "s3") problems.push("CDN_BASE_URL needs BLOB_DRIVER=s3 (the CDN serves the bucket)");
  const base = c.cdnBaseUrl === undefined ? undefined : new URL(c.cdnBaseUrl);
  if (base && (base.search || base.hash || base.username || base.password))
    problems.push("CDN_BASE_URL must be a plain https URL, without query, fragment or credentials");
  if (c.cdnKeyPairId !== undefined && !/^[A-Z0-9]{1,64}$/.test(c.cdnKeyPairId))
    problems.push(
      `CDN_KEY_PAIR_ID must be a CloudFront key id like K2JCJMDEHXQW5F (got ${JSON.stringify(c.cdnKeyPairId.slice(0, 64))})`,
    );
  const privateKey = c.cdnPrivateKeyFile === undefined ? undefined : readKey(c.cdnPrivateKeyFile, problems);
  if (problems.length > 0 || !base || !c.cdnKeyPairId || !privateKey) throw new ConfigError(problems);
  return { baseUrl: base.href.replace(/\/+$/, ""), keyPairId: c.cdnKeyPairId, privateKey };
}

// Messages name the file and what is wrong with it, never its content.
function readKey(file: string, problems: string[]): KeyObject | undefined {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    problems.push(
      `CDN_PRIVATE_KEY_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    problems.push(`CDN_PRIVATE_KEY_FILE ${file} is not an unencrypted PEM private key`);
    return undefined;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== "rsa" || bits < 2048) {
    problems.push(
      `CDN_PRIVATE_KEY_FILE ${file} must hold an RSA key of 2048 bits or more (got ${key.asymmetricKeyType}${bits ? ` ${bits}` : ""})`,
    );
    return undefined;
  }
  return key;
}
