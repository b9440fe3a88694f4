// GET /v1/files/{id}/content through the gateway with a CDN configured (s3 driver, CDN_*):
// redirect=true answers 307 to a CloudFront signed URL that a test CDN (verifying with the
// public key, serving from MinIO) answers with the upload's bytes; without redirect the gateway
// fetches that same URL and streams the bytes with the ticket's headers.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestCdn, type TestCdn, verifyCloudFrontUrl } from "../../services/file/test/test-cdn.js";
import { fileClient, sha } from "./file-client.js";
import { startTarget, type Target } from "./target.js";

const KEY_ID = "K2JCJMDEHXQW5F";
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const bucket = uniqueId("cdn")
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, "-");
const dir = mkdtempSync(join(tmpdir(), "filemesh-cdn-gw-"));
let minio: TestMinio;
let cdn: TestCdn;
let t: Target;

beforeAll(async () => {
  minio = await startTestMinio();
  cdn = await startTestCdn(publicKey, KEY_ID, () => ({ minio, bucket }));
  writeFileSync(join(dir, "cdn.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(join(dir, "ca.pem"), cdn.ca);
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    serviceEnv: {
      file: {
        ...minio.env(bucket),
        CDN_BASE_URL: cdn.base,
        CDN_KEY_PAIR_ID: KEY_ID,
        CDN_PRIVATE_KEY_FILE: join(dir, "cdn.pem"),
      },
    },
    // The gateway (Go) trusts the test CDN's self-signed certificate.
    gatewayEnv: { SSL_CERT_FILE: join(dir, "ca.pem") },
  });
}, 180_000);
afterAll(async () => {
  await t?.stop();
  await cdn?.stop();
  await minio?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const { signup, raw } = fileClient(() => t.base);

describe("downloads through a CDN", () => {
  it("redirect=true sends the client to a signed CDN URL; without it the gateway streams through the CDN", async () => {
    const a = await signup();
    const data = randomBytes(200_000);
    const up = await raw(
      "POST",
      `/v1/files:upload?name=${encodeURIComponent("cdn report.bin")}`,
      a.auth,
      data,
    );
    expect(up.status).toBe(200);
    const file = JSON.parse(up.bytes.toString()) as { id: string; sha256: string };

    const res = await fetch(`${t.base}/v1/files/${file.id}/content?redirect=true`, {
      headers: a.auth,
      redirect: "manual",
    });
    expect(res.status).toBe(307);
    const location = res.headers.get("location") ?? "";
    expect(location.startsWith(`${cdn.base}/`)).toBe(true);
    const v = verifyCloudFrontUrl(location, publicKey);
    expect(typeof v === "string" ? v : v.keyPairId).toBe(KEY_ID);
    const followed = await cdn.get(location);
    expect([followed.status, sha(followed.bytes)]).toEqual([200, file.sha256]);
    expect(followed.headers["content-disposition"]).toMatch(/^attachment; filename="cdn report.bin"/);

    const streamed = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
    expect([streamed.status, sha(streamed.bytes)]).toEqual([200, file.sha256]);
    expect(streamed.headers.get("etag")).toBe(`"${file.sha256}"`);
  });
});
