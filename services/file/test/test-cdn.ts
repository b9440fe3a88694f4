// A stand-in for CloudFront in tests: an https server on loopback (a self-signed certificate
// made with the openssl CLI) that checks a signed URL exactly as CloudFront checks a canned
// policy — with the public key only — and then answers from MinIO for the same object key,
// forwarding the response-* query (S3 sets the headers from it) and Range, as a distribution
// with an origin access control does.

import { execFileSync } from "node:child_process";
import { type KeyObject, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { TestMinio } from "@filemesh/kit/testing";

const SIGNING_PARAMS = ["Expires", "Signature", "Key-Pair-Id"];

export interface Verified {
  /** The URL the policy names: the signed URL without its three signing parameters. */
  resource: string;
  expires: number;
  keyPairId: string;
}

/**
 * Checks a CloudFront canned-policy signed URL with the public key: RSA-SHA1 over
 * {"Statement":[{"Resource":"<resource>","Condition":{"DateLessThan":{"AWS:EpochTime":<Expires>}}}]},
 * the signature in CloudFront's base64 (+ → -, = → _, / → ~). A string says why it fails.
 */
export function verifyCloudFrontUrl(url: string, publicKey: KeyObject, now = Date.now()): Verified | string {
  const q = url.indexOf("?");
  if (q < 0) return "no query";
  const pairs = url.slice(q + 1).split("&");
  const params = new Map<string, string>();
  const rest: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (SIGNING_PARAMS.includes(name)) {
      if (params.has(name)) return `${name} twice`;
      params.set(name, pair.slice(name.length + 1));
    } else rest.push(pair);
  }
  const [expires, signature, keyPairId] = SIGNING_PARAMS.map((p) => params.get(p));
  if (!expires || !signature || !keyPairId) return "a signing parameter is missing";
  if (!/^\d+$/.test(expires)) return "Expires is not a number";
  const resource = url.slice(0, q) + (rest.length ? `?${rest.join("&")}` : "");
  const policy = `{"Statement":[{"Resource":"${resource}","Condition":{"DateLessThan":{"AWS:EpochTime":${expires}}}}]}`;
  const sig = Buffer.from(signature.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"), "base64");
  if (!verify("RSA-SHA1", Buffer.from(policy), publicKey, sig)) return "bad signature";
  if (Number(expires) * 1000 <= now) return "expired";
  return { resource, expires: Number(expires), keyPairId };
}

export interface TestCdn {
  /** https://127.0.0.1:<port> */
  base: string;
  /** The certificate to trust (self-signed, for 127.0.0.1). */
  ca: Buffer;
  /** GET through the CDN, trusting `ca`. */
  get(
    url: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: Buffer }>;
  stop(): Promise<void>;
}

/** Starts the CDN; `origin()` names the MinIO and bucket once the mesh has started. */
export async function startTestCdn(
  publicKey: KeyObject,
  keyPairId: string,
  origin: () => { minio: TestMinio; bucket: string },
): Promise<TestCdn> {
  const dir = mkdtempSync(join(tmpdir(), "filemesh-cdn-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]),
    { stdio: "ignore" },
  );
  const ca = readFileSync(join(dir, "cert.pem"));
  const key = readFileSync(join(dir, "key.pem"));
  rmSync(dir, { recursive: true, force: true });
  let client: S3Client | undefined;
  let base = "";
  const server = createServer({ cert: ca, key }, (req, res) => {
    void (async () => {
      const checked = verifyCloudFrontUrl(base + (req.url ?? ""), publicKey);
      if (req.method !== "GET" || typeof checked === "string" || checked.keyPairId !== keyPairId) {
        res
          .writeHead(403, { "content-type": "text/plain" })
          .end(typeof checked === "string" ? checked : "refused");
        return;
      }
      const { minio, bucket } = origin();
      client ??= new S3Client({
        endpoint: minio.endpoint,
        region: minio.region,
        forcePathStyle: true,
        credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      });
      const u = new URL(checked.resource);
      const q = u.searchParams;
      const signed = await getSignedUrl(
        client,
        new GetObjectCommand({
          Bucket: bucket,
          Key: u.pathname.slice(1).split("/").map(decodeURIComponent).join("/"),
          ...(q.has("response-content-disposition")
            ? { ResponseContentDisposition: q.get("response-content-disposition")! }
            : {}),
          ...(q.has("response-content-type") ? { ResponseContentType: q.get("response-content-type")! } : {}),
        }),
        { expiresIn: 60 },
      );
      const from = await fetch(signed, { headers: req.headers.range ? { range: req.headers.range } : {} });
      const headers: Record<string, string> = {};
      for (const h of ["content-type", "content-disposition", "content-length", "content-range", "etag"]) {
        const v = from.headers.get(h);
        if (v) headers[h] = v;
      }
      res.writeHead(from.status, headers);
      if (from.body) Readable.fromWeb(from.body as never).pipe(res);
      else res.end();
    })().catch((err) => res.writeHead(502).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    ca,
    get: (url, headers = {}) =>
      new Promise((resolve, reject) => {
        request(url, { ca, headers }, (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(parts) }),
          );
          res.on("error", reject);
        })
          .on("error", reject)
          .end();
      }),
    stop: () => {
      client?.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
