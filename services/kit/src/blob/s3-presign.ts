// Presigned GETs without the SDK's per-command pipeline. `getSignedUrl` builds a whole command
// for every URL — endpoint rules, middleware stack, serializers — about 0.6 ms of CPU, a
// quarter of a download's CPU in the file service. The URL's origin, bucket path and constant
// parameters are learnt once from one `getSignedUrl`, so endpoint rules (path or virtual-host
// style, custom endpoints) stay the SDK's; each URL is then signed by the kit's own SigV4
// signer (s3-sign.ts querySigner: one SHA-256 and one HMAC). `test/blob-store.test.ts` checks
// the URLs equal the SDK's, parameter for parameter.
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { canonicalQuery, querySigner } from "./s3-sign.js";

/** What the signature adds; everything else of the probe URL is constant per store. */
const SIGNED = new Set([
  "X-Amz-Security-Token",
  "X-Amz-Content-Sha256",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
]);
const PROBE_KEY = "00/00/00000000-0000-0000-0000-000000000000";

export interface Shape {
  protocol: string;
  hostname: string;
  port: number | undefined;
  host: string;
  /** The path before the key ("/bucket/" path-style, "/" virtual-host style). */
  prefix: string;
  constant: Record<string, string>;
}

export interface GetPresignOptions {
  expiresIn: number;
  disposition: string;
  contentType?: string | undefined;
  /** The signature's time (tests); now by default. */
  signingDate?: Date;
}

/**
 * How `client` addresses `bucket`'s objects (origin, path prefix, constant query), learnt once
 * from one SDK presigned URL (so the SDK's endpoint rules decide it); learnt again after a failure.
 */
export function shapeOf(client: S3Client, bucket: string): () => Promise<Shape> {
  let shape: Promise<Shape> | undefined;
  const learn = async (): Promise<Shape> => {
    const probe = new URL(
      await getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: PROBE_KEY }), { expiresIn: 1 }),
    );
    if (!probe.pathname.endsWith(PROBE_KEY))
      throw new Error(`unexpected presigned URL shape ${probe.origin}`);
    const constant: Record<string, string> = {};
    for (const [k, v] of probe.searchParams) if (!SIGNED.has(k)) constant[k] = v;
    return {
      protocol: probe.protocol,
      hostname: probe.hostname,
      port: probe.port ? Number(probe.port) : undefined,
      host: probe.host,
      prefix: probe.pathname.slice(0, -PROBE_KEY.length),
      constant,
    };
  };
  return () =>
    (shape ??= learn().catch((err: unknown) => {
      shape = undefined; // learnt again on the next call
      throw err;
    }));
}

/**
 * Returns a presigner of GETs of `bucket`'s objects by keys needing no escaping (the store's
 * object keys: hex, dashes and slashes).
 */
export function getPresigner(client: S3Client, bucket: string) {
  const sign = querySigner(client);
  const shape = shapeOf(client, bucket);
  return async (key: string, o: GetPresignOptions): Promise<string> => {
    const s = await shape();
    const query = await sign(
      {
        method: "GET",
        host: s.host,
        path: s.prefix + key,
        query: {
          ...s.constant,
          "response-content-disposition": o.disposition,
          ...(o.contentType ? { "response-content-type": o.contentType } : {}),
        },
      },
      o.signingDate ?? new Date(),
      o.expiresIn,
    );
    return `${s.protocol}//${s.host}${s.prefix}${key}?${canonicalQuery(query)}`;
  };
}
