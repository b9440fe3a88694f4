import { methodCatalog } from "@filemesh/contracts";
import { bool, type ConfigOf, duration, type Field, int, list, oneOf, str, url } from "./config.js";
import { parseLimits } from "./ratelimit/gcra.js";
import { runPrefixField } from "./run-prefix.js";

export const SERVICE_NAMES = ["auth", "user", "permission", "file", "processor"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Default gRPC ports (docs/architecture.md §8). Replica i listens on base + 10·i; admin on grpc + 1000. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  auth: 50051,
  user: 50052,
  permission: 50053,
  file: 50054,
  processor: 50055,
};

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Settings every service shares; each service spreads this into its own spec. */
export function commonSpec(name: ServiceName) {
  const port = DEFAULT_PORTS[name];
  return {
    host: str("GRPC_HOST", { default: "127.0.0.1", doc: "address to bind" }),
    port: int("GRPC_PORT", { default: port, min: 0, max: 65535 }),
    adminPort: int("ADMIN_PORT", { default: port + 1000, min: 0, max: 65535, doc: "HTTP /metrics" }),
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, { default: "info" }),
    otlpEndpoint: url("OTEL_EXPORTER_OTLP_ENDPOINT", ["http", "https"], { optional: true }),
    shutdownTimeoutMs: duration("SHUTDOWN_TIMEOUT", { default: 20_000 }),
    /** Time between NOT_SERVING and closing the listener, so load balancers stop sending. */
    drainDelayMs: duration("SHUTDOWN_DRAIN_DELAY", { default: 0 }),
    tlsCertFile: str("TLS_CERT_FILE", { optional: true }),
    tlsKeyFile: str("TLS_KEY_FILE", { optional: true }),
    tlsClientCaFile: str("TLS_CLIENT_CA_FILE", { optional: true, doc: "require client certificates" }),
    /** Default deadline of outgoing calls when the incoming call has none. */
    clientTimeoutMs: duration("CLIENT_TIMEOUT", { default: 10_000 }),
    authAddrs: list("AUTH_ADDRS", { default: ["127.0.0.1:50051"] }),
    userAddrs: list("USER_ADDRS", { default: ["127.0.0.1:50052"] }),
    permissionAddrs: list("PERMISSION_ADDRS", { default: ["127.0.0.1:50053"] }),
    fileAddrs: list("FILE_ADDRS", { default: ["127.0.0.1:50054"] }),
    processorAddrs: list("PROCESSOR_ADDRS", { default: ["127.0.0.1:50055"] }),
    tlsClients: bool("CLIENT_TLS", {
      default: false,
      doc: "use TLS (with TLS_CERT_FILE as client cert) to call peers",
    }),
    jwtIssuer: str("JWT_ISSUER", { default: "filemesh" }),
    jwtAudience: str("JWT_AUDIENCE", { default: "filemesh" }),
    sessionIdleMs: duration("SESSION_IDLE_TIMEOUT", { default: 7 * 86_400_000 }),
    /** How mesh services prove who they are on internal methods: a shared token, or Istio's XFCC header. */
    internalAuth: oneOf("INTERNAL_AUTH", ["token", "xfcc"] as const, { default: "token" }),
    internalToken: str("INTERNAL_TOKEN", { default: "", secret: true }),
    // INTERNAL_AUTH=xfcc: only SPIFFE identities spiffe://<domain>/ns/<namespace>/sa/<service> count.
    meshTrustDomain: str("MESH_TRUST_DOMAIN", { default: "cluster.local" }),
    meshNamespace: str("MESH_NAMESPACE", { default: "filemesh" }),
    rateLimits: rateLimitsField(),
    // Only behind a proxy that sets it (the gateway, Envoy): otherwise callers could pick their identity.
    trustForwardedFor: bool("TRUST_FORWARDED_FOR", { default: false }),
    /** Proxies that appended to X-Forwarded-For; the client is the entry this far from the right. */
    trustedProxyHops: int("TRUSTED_PROXY_HOPS", { default: 1, min: 1, max: 10 }),
    /** Prefix of every NATS stream, subject and durable consumer (kit run-prefix.ts). */
    runPrefix: runPrefixField("RUN_PREFIX"),
    /** Prefix of every Redis key; RUN_PREFIX when empty (kit run-prefix.ts). */
    redisPrefix: runPrefixField("REDIS_PREFIX"),
  };
}

/**
 * RATE_LIMITS, checked at start-up (a bad one stops the service, exit 78): known rate classes
 * only, and every rate, period and burst within what the limiter can represent.
 */
function rateLimitsField(): Field<string> {
  return {
    env: "RATE_LIMITS",
    default: DEFAULT_RATE_LIMITS,
    parse(raw) {
      parseLimits(raw, rateClasses());
      return raw;
    },
  };
}

/** The rate classes the contracts' method policy uses. */
export const rateClasses = (): ReadonlySet<string> =>
  new Set(methodCatalog.map((m) => m.policy.rateClass).filter(Boolean));

/**
 * Per caller and rate class (classes come from the contracts' method policy). What each one
 * protects against is in docs/deploy.md ("Per-user limits"): bursts are sized for a browser
 * (a folder of thumbnails, a dropped folder of files), sustained rates so that one account
 * cannot take more than a fraction of the seed's cluster-wide targets.
 */
export const DEFAULT_RATE_LIMITS = [
  "login=30/1m:20",
  "refresh=600/1m:120",
  "register=20/1m:10",
  "lookup=30/1m:10",
  "read=500/1s:1000",
  "write=100/1s:500",
  "check=5000/1s:5000",
  "upload=100/1s:1000",
  "download=1000/1s:3000",
  "link=120/1m:60",
].join(",");

export function databaseSpec() {
  return {
    databaseUrl: url("DATABASE_URL", ["postgres", "postgresql"], {
      default: "postgres://postgres@127.0.0.1:5432/filemesh",
      secret: true,
    }),
    databaseReadUrl: url("DATABASE_READ_URL", ["postgres", "postgresql"], { optional: true, secret: true }),
    databasePoolSize: int("DATABASE_POOL_SIZE", { default: 10, min: 1, max: 200 }),
    /** Parameterised statements named (prepared once per connection; kit db/prepared.ts). */
    databasePreparedStatements: bool("DATABASE_PREPARED_STATEMENTS", { default: true }),
    /** How long request_id records (kit db/idempotency.ts) are kept: a retry within it replays. */
    requestRetentionMs: duration("REQUEST_ID_RETENTION", { default: 7 * 86_400_000 }),
    /** Session-mode URL for LISTEN/NOTIFY when DATABASE_URL goes through PgBouncer transaction pooling. */
    databaseSessionUrl: url("DATABASE_SESSION_URL", ["postgres", "postgresql"], {
      optional: true,
      secret: true,
    }),
  };
}

export function redisSpec() {
  return {
    redisUrl: url("REDIS_URL", ["redis", "rediss"], { default: "redis://127.0.0.1:6379", secret: true }),
  };
}

export function natsSpec() {
  return { natsUrl: url("NATS_URL", ["nats", "tls"], { default: "nats://127.0.0.1:4222", secret: true }) };
}

/**
 * Where file bytes live: read by the file service (which owns them) and the processor (which
 * checks uploads and writes thumbnails beside them), so both parse the same settings.
 */
export function blobSpec() {
  return {
    blobDriver: oneOf("BLOB_DRIVER", ["fs", "s3"] as const, { default: "fs" }),
    /** Root directory of the fs driver. */
    blobDir: str("BLOB_DIR", { default: ".tmp/blobs" }),
    s3Endpoint: url("S3_ENDPOINT", ["http", "https"], { optional: true, doc: "empty: AWS" }),
    s3Bucket: str("S3_BUCKET", { default: "filemesh" }),
    s3Region: str("S3_REGION", { default: "us-east-1" }),
    s3AccessKeyId: str("S3_ACCESS_KEY_ID", { optional: true, secret: true }),
    s3SecretAccessKey: str("S3_SECRET_ACCESS_KEY", { optional: true, secret: true }),
    /** Path-style URLs; default: on with S3_ENDPOINT (MinIO), off for AWS. */
    s3ForcePathStyle: bool("S3_FORCE_PATH_STYLE", { optional: true }),
  };
}

export type BlobSettings = ConfigOf<ReturnType<typeof blobSpec>>;
