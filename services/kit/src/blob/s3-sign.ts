// SigV4 header signing for the lean requests (s3-lean.ts), with the payload unsigned
// (`x-amz-content-sha256: UNSIGNED-PAYLOAD`). The SDK's signer derived its cache key for the
// signing key with an HMAC of the credentials on every request, and went through its generic
// header and query handling; in the upload burst signing was 5 % of the file service's busy
// time (bench/README.md). Here the signing key is derived once per day, region and credentials,
// and a request costs one SHA-256 of its canonical form and one HMAC. The signature is the
// SDK's, byte for byte, for the same request and time (test/s3-sign.test.ts).
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

/** Signs requests with `client`'s credentials and region (resolved per request, as the SDK does). */
export function headerSigner(client: S3Client): (req: LeanRequest, at: Date) => Promise<LeanRequest> {
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
  return async (req, at) => {
    const [creds, region] = await Promise.all([config.credentials(), config.region()]);
    const amzDate = amzDateOf(at);
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...req.headers, "x-amz-date": amzDate };
    if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
    const signedHeaders = names.join(";");
    const canonical = `${req.method}\n${req.path}\n${canonicalQuery(req.query)}\n${canonicalHeaders}\n${signedHeaders}\n${headers["x-amz-content-sha256"]}`;
    const scope = `${day}/${region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash("sha256").update(canonical).digest("hex")}`;
    const signature = hmac(signingKey(creds, region, day), toSign).toString("hex");
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return { ...req, headers };
  };
}
