// CDN_* on the s3 driver (issue 15): download URLs (GetDownloadUrl, and the download ticket the
// gateway redirects to or proxies) are CloudFront signed URLs on the CDN's base, checked here
// with the public key exactly as CloudFront checks them, for the version's object and the
// lifetime a presign would have; a test CDN (test-cdn.ts) serves them from MinIO. Uploads still
// get presigned S3 part URLs; callers without read access get nothing.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpc, useFileMesh } from "./start-file.js";
import { startTestCdn, type TestCdn, verifyCloudFrontUrl } from "./test-cdn.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const KEY_ID = "K2JCJMDEHXQW5F";
const PRESIGN_S = 120;
const TICKET_S = 30;
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const bucket = uniqueId("cdn")
  .toLowerCase()
  .replace(/[^a-z0-9-]/g, "-");
const dir = mkdtempSync(join(tmpdir(), "filemesh-cdn-key-"));
const keyFile = join(dir, "cdn.pem");
writeFileSync(keyFile, privateKey.export({ type: "pkcs1", format: "pem" }));

// The CDN starts first (its address goes into the file service's env), the mesh after it.
const env: Record<string, string> = {
  S3_BUCKET: bucket,
  PRESIGN_EXPIRY: `${PRESIGN_S}s`,
  TRANSFER_TICKET_EXPIRY: `${TICKET_S}s`,
  CDN_KEY_PAIR_ID: KEY_ID,
  CDN_PRIVATE_KEY_FILE: keyFile,
};
let cdn: TestCdn;
beforeAll(async () => {
  cdn = await startTestCdn(publicKey, KEY_ID, () => ({ minio: t.minio!, bucket }));
  env.CDN_BASE_URL = `${cdn.base}/`;
});
const t = useFileMesh({ driver: "s3", env });
afterAll(async () => {
  await cdn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type H = Record<string, string>;
const NAME = "résumé final; 100% (draft)'s & co=1.bin";
const objectKeyOf = async (fileId: string) =>
  (
    await t.db.query<{ object_key: string }>("SELECT object_key FROM files.versions WHERE file_id = $1", [
      fileId,
    ])
  ).rows[0]!.object_key;
const downloadUrl = (h: H, fileId: string) => rpc(t.f, t.f.getDownloadUrl, { fileId, versionId: "" }, h);
const ticket = (h: H, fileId: string) =>
  rpc(t.f, t.f.createDownloadTicket, filev1.CreateDownloadTicketRequest.fromPartial({ fileId }), h);

/** The URL checked as CloudFront would, and what it names. */
function checked(url: string, lifetimeS: number, expireTime: Date | undefined) {
  const before = Math.floor(Date.now() / 1000);
  const v = verifyCloudFrontUrl(url, publicKey);
  if (typeof v === "string") throw new Error(`signature check failed: ${v}`);
  expect(v.keyPairId).toBe(KEY_ID);
  expect(v.expires).toBeGreaterThan(before);
  expect(v.expires).toBeLessThanOrEqual(before + lifetimeS);
  expect(expireTime?.getTime()).toBe(v.expires * 1000);
  const u = new URL(v.resource);
  expect(u.origin).toBe(cdn.base);
  return { ...v, key: u.pathname.slice(1), query: u.searchParams };
}

describe("download URLs with a CDN", () => {
  it("GetDownloadUrl: a CloudFront signed URL for the version's object, valid PRESIGN_EXPIRY", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(100_000);
    const f = await t.upload(a.headers, NAME, data);
    const { url, expireTime } = await downloadUrl(a.headers, f.id);
    expect(url.startsWith(`${cdn.base}/`)).toBe(true);
    const params = [...new URL(url).searchParams.keys()];
    expect(params.slice(-3).sort()).toEqual(["Expires", "Key-Pair-Id", "Signature"]);
    expect(url).not.toContain("X-Amz-");
    const v = checked(url, PRESIGN_S, expireTime);
    expect(v.key).toBe(await objectKeyOf(f.id));
    // The headers a presigned GET sets, in the signed part of the URL.
    expect(v.query.get("response-content-type")).toBe("application/octet-stream");
    expect(v.query.get("response-content-disposition")).toBe(
      `attachment; filename="r_sum_ final; 100% (draft)'s & co=1.bin"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final%3B%20100%25%20%28draft%29%27s%20%26%20co%3D1.bin`,
    );

    const got = await cdn.get(url);
    expect(got.status).toBe(200);
    expect(sha(got.bytes)).toBe(sha(data));
    expect(got.headers["content-type"]).toBe("application/octet-stream");
    expect(got.headers["content-disposition"]).toBe(v.query.get("response-content-disposition"));
  });

  it("the download ticket (what the gateway redirects to) is one too, valid TRANSFER_TICKET_EXPIRY; Range passes", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(300_000);
    const f = await t.upload(a.headers, "big.bin", data);
    const tk = await ticket(a.headers, f.id);
    expect(tk.ticket).toBe("");
    const v = checked(tk.url, TICKET_S, tk.expireTime);
    expect(v.key).toBe(await objectKeyOf(f.id));
    // Following the redirect: the bytes through the CDN are the upload's.
    const whole = await cdn.get(tk.url);
    expect([whole.status, sha(whole.bytes)]).toEqual([200, f.sha256]);
    const part = await cdn.get(tk.url, { range: "bytes=1000-1999" });
    expect(part.status).toBe(206);
    expect(part.bytes).toEqual(data.subarray(1000, 2000));
  });

  it("an altered URL fails the check and the CDN refuses it", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "mine.bin", randomBytes(1000));
    const other = await t.upload(a.headers, "other.bin", randomBytes(1000));
    const { url } = await downloadUrl(a.headers, f.id);
    const key = await objectKeyOf(f.id);
    const u = new URL(url);
    const expires = u.searchParams.get("Expires")!;
    const sig = u.searchParams.get("Signature")!;
    const flipped = sig[10] === "A" ? "B" : "A";
    const altered = [
      url.replace(key, await objectKeyOf(other.id)), // another object
      url.replace(`Expires=${expires}`, `Expires=${Number(expires) + 3600}`), // longer
      url.replace("filename", "filenamx"), // other response headers
      url.replace("response-content-type=application%2Foctet-stream", "response-content-type=text%2Fhtml"),
      url.replace(`Signature=${sig}`, `Signature=${sig.slice(0, 10)}${flipped}${sig.slice(11)}`),
      url.replace(cdn.base, "https://127.0.0.2:1"), // another host
    ];
    for (const bad of altered) {
      expect(bad).not.toBe(url);
      expect([bad, verifyCloudFrontUrl(bad, publicKey)]).toEqual([bad, "bad signature"]);
    }
    for (const bad of altered.slice(0, 5)) expect((await cdn.get(bad)).status).toBe(403);
    // Signed by another key: refused too.
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(verifyCloudFrontUrl(url, stranger)).toBe("bad signature");
    expect((await cdn.get(url)).status).toBe(200); // the original still works
  });

  it("a caller without read access gets no URL: NOT_FOUND as for a missing file", async () => {
    const [a, s] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const f = await t.upload(a.headers, "private.bin", randomBytes(100));
    for (const ask of [downloadUrl, ticket]) {
      expect(await failure(ask(s.headers, f.id))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "FILE_NOT_FOUND",
      });
    }
    expect(await failure(downloadUrl({}, f.id))).toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it("GetDownloadUrl names the version asked for, and tells nothing about versions before access", async () => {
    const [a, s] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const v1 = await t.upload(a.headers, "versions.bin", randomBytes(1000));
    await t.upload(a.headers, "versions.bin", randomBytes(2000));
    const keyOf = async (versionId: string) =>
      (
        await t.db.query<{ object_key: string }>("SELECT object_key FROM files.versions WHERE id = $1", [
          versionId,
        ])
      ).rows[0]!.object_key;
    const url = (h: H, fileId: string, versionId: string) =>
      rpc(t.f, t.f.getDownloadUrl, { fileId, versionId }, h);
    const old = await url(a.headers, v1.id, v1.currentVersionId);
    expect(checked(old.url, PRESIGN_S, old.expireTime).key).toBe(await keyOf(v1.currentVersionId));
    const current = await url(a.headers, v1.id, "");
    expect(checked(current.url, PRESIGN_S, current.expireTime).key).not.toBe(
      await keyOf(v1.currentVersionId),
    );
    for (const versionId of ["00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      expect(await failure(url(a.headers, v1.id, versionId))).toMatchObject({
        code: status.NOT_FOUND,
        reason: "VERSION_NOT_FOUND",
      });
      expect(await failure(url(s.headers, v1.id, versionId))).toMatchObject({ reason: "FILE_NOT_FOUND" });
    }
    expect(await failure(url(s.headers, v1.id, v1.currentVersionId))).toMatchObject({
      reason: "FILE_NOT_FOUND",
    });
    const dir = await rpc(t.f, t.f.createFolder, { parentId: "", name: "dir", requestId: "" }, a.headers);
    expect(await failure(url(a.headers, dir.file!.id, ""))).toMatchObject({ reason: "NOT_A_FILE" });
  });

  it("uploads still get presigned S3 part URLs", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(1000);
    const u = (
      await rpc(
        t.f,
        t.f.createUpload,
        filev1.CreateUploadRequest.fromPartial({
          name: "up.bin",
          sizeBytes: String(data.length),
          sha256: sha(data),
        }),
        a.headers,
      )
    ).upload!;
    const url = u.partUrls[0]!.url;
    expect(url.startsWith(t.minio!.endpoint)).toBe(true);
    expect(new URL(url).searchParams.get("X-Amz-Signature")).toBeTruthy();
    expect((await fetch(url, { method: "PUT", body: data })).status).toBe(200);
    const file = (await rpc(t.f, t.f.completeUpload, { uploadId: u.id, parts: [] }, a.headers)).file!;
    expect(file.sha256).toBe(sha(data));
  });
});
