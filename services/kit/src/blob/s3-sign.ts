// SigV4 signing for the lean requests (s3-lean.ts, in the Authorization header) and for
// presigned GETs (s3-presign.ts, in the query), with the payload unsigned (`UNSIGNED-PAYLOAD`). The SDK's signer derived its cache key for the
// signing key with an HMAC of the credentials on every request, and went through its generic
// header and query handling; in the upload burst signing was 5 % of the file service's busy
// time (bench/README.md). Here the signing key is derived once per day, region and credentials,
// and a request costs one SHA-256 of its canonical form and one HMAC. The signature is the
// SDK's, byte for byte, for the same request and time (test/s3-sign.test.ts). The SDK's
// presigner cost 11 % of the file service's busy time in GetDownloadUrl (BENCH_CPU_PROF=1).
import { createHash, createHmac } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";

export interface LeanRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  /** The path as sent (the store's keys need no escaping). */
  path: string;
  query: Record<string, string>;
  /** Lower-case names; `host` and `x-amz-content-sha256` among them. All are signed. */
  headers: Record<string, string>;
  body?: unknown;
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/** RFC 3986 escaping, as SigV4 canonicalises (and S3 decodes) query names and values. */
const uriEscape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4's canonical query string (escaped names and values, sorted by name); a URL's query too. */
export const canonicalQuery = (query: Record<string, string>): string =>
  Object.keys(query)
    .map((k) => [uriEscape(k), uriEscape(query[k]!)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");

/** `20261204T180000Z` */
const amzDateOf = (d: Date) => d.toISOString().replace(/[-:]|\.\d{3}/g, "");

/** What a request is signed with at one instant: the credentials, scope and signing key. */
interface Signing {
  creds: Credentials;
  amzDate: string;
  scope: string;
  key: Buffer;
}

/**
 * `client`'s credentials and region (resolved per request, as the SDK does) at an instant, with
 * the signing key derived once per day, region and credentials.
 */
function signingOf(client: S3Client): (at: Date) => Promise<Signing> {
  const config = client.config as unknown as {
    credentials: () => Promise<Credentials>;
    region: () => Promise<string>;
  };
  let derived: { day: string; region: string; id: string; secret: string; key: Buffer } | undefined;
  const signingKey = (creds: Credentials, region: string, day: string): Buffer => {
    const d = derived;
    if (
      d &&
      d.day === day &&
      d.region === region &&
      d.id === creds.accessKeyId &&
      d.secret === creds.secretAccessKey
    ) {
      return d.key;
    }
    const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), region), "s3"), "aws4_request");
    derived = { day, region, id: creds.accessKeyId, secret: creds.secretAccessKey, key };
    return key;
  };
  return async (at) => {
    const [creds, region] = await Promise.all([config.credentials(), config.region()]);
    const amzDate = amzDateOf(at);
    const day = amzDate.slice(0, 8);
    return { creds, amzDate, scope: `${day}/${region}/s3/aws4_request`, key: signingKey(creds, region, day) };
  };
}

/** The signature of a canonical request. */
const signatureOf = (s: Signing, canonical: string) =>
  hmac(
    s.key,
    `AWS4-HMAC-SHA256\n${s.amzDate}\n${s.scope}\n${createHash("sha256").update(canonical).digest("hex")}`,
  ).toString("hex");

/** Signs requests in their Authorization header, with `client`'s credentials and region. */
export function headerSigner(client: S3Client): (req: LeanRequest, at: Date) => Promise<LeanRequest> {
  const signing = signingOf(client);
  return async (req, at) => {
    const s = await signing(at);
    const headers: Record<string, string> = { ...req.headers, "x-amz-date": s.amzDate };
    if (s.creds.sessionToken) headers["x-amz-security-token"] = s.creds.sessionToken;
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
    const signedHeaders = names.join(";");
    const signature = signatureOf(
      s,
      `${req.method}\n${req.path}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${signedHeaders}\n${headers["x-amz-content-sha256"]}`,
    );
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${s.creds.accessKeyId}/${s.scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return { ...req, headers };
  };
}

/** A request to presign: only `host` is signed, the payload is not. */
export interface PresignRequest {
  method: string;
  host: string;
  /** The path as sent (the store's keys need no escaping). */
  path: string;
  query: Record<string, string>;
}

/** SigV4's longest presigned lifetime (a week), which the SDK enforces too. */
const MAX_PRESIGN_SECONDS = 604_800;

/**
 * Presigns requests in their query (SigV4 query signing, `UNSIGNED-PAYLOAD`, as the SDK's
 * `getSignedUrl` does for a GetObject): returns the query with the signature's parameters.
 */
export function querySigner(
  client: S3Client,
): (req: PresignRequest, at: Date, expiresIn: number) => Promise<Record<string, string>> {
  const signing = signingOf(client);
  return async (req, at, expiresIn) => {
    if (expiresIn > MAX_PRESIGN_SECONDS) throw new Error("a presigned URL lasts at most a week");
    const s = await signing(at);
    const query: Record<string, string> = {
      ...req.query,
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD",
      "X-Amz-Credential": `${s.creds.accessKeyId}/${s.scope}`,
      "X-Amz-Date": s.amzDate,
      "X-Amz-Expires": String(expiresIn),
      "X-Amz-SignedHeaders": "host",
    };
    if (s.creds.sessionToken) query["X-Amz-Security-Token"] = s.creds.sessionToken;
    query["X-Amz-Signature"] = signatureOf(
      s,
      `${req.method}\n${req.path}\n${canonicalQuery(query)}\nhost:${req.host.trim()}\n\nhost\nUNSIGNED-PAYLOAD`,
    );
    return query;
  };
}
