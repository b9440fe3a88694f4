// One contract for every BlobStore driver: fs on a temp directory, s3 against a real MinIO
// started by the test. Presigned URL scope and expiry are checked against MinIO itself.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BlobNotFoundError,
  type BlobStore,
  newObjectKey,
  PresignUnsupportedError,
} from "../src/blob/blob-store.js";
import { createFsStore } from "../src/blob/fs-store.js";
import { createS3Store } from "../src/blob/s3-store.js";

const read = async (r: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
};
async function* chunked(b: Buffer, size = 64 * 1024) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let minio: TestMinio;
let dir: string;
const stores: Record<string, BlobStore> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "filemesh-blobs-"));
  stores.fs = createFsStore(dir);
  minio = await startTestMinio();
  stores.s3 = createS3Store({
    endpoint: minio.endpoint,
    region: minio.region,
    bucket: uniqueId("b").toLowerCase(),
    accessKeyId: minio.accessKeyId,
    secretAccessKey: minio.secretAccessKey,
    forcePathStyle: true,
    putPartBytes: 5 * 1024 * 1024,
  });
  for (const s of Object.values(stores)) await s.init();
});
afterAll(async () => {
  await minio?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(["fs", "s3"])("BlobStore contract (%s)", (driver) => {
  const s = () => stores[driver]!;

  it("stores a stream of unknown length and reads it back whole and by range", async () => {
    const data = randomBytes(6 * 1024 * 1024 + 123);
    const key = newObjectKey();
    expect(await s().put(key, chunked(data))).toEqual({ sizeBytes: data.length });
    expect(await s().stat(key)).toEqual({ sizeBytes: data.length });
    expect(sha(await read(await s().get(key)))).toBe(sha(data));
    expect(await read(await s().get(key, { offset: 10, length: 100 }))).toEqual(data.subarray(10, 110));
    expect(await read(await s().get(key, { offset: data.length - 5 }))).toEqual(data.subarray(-5));
    expect((await read(await s().get(key, { offset: 3, length: 0 }))).length).toBe(0);
  });

  it("stores an empty object", async () => {
    const key = newObjectKey();
    expect(await s().put(key, chunked(Buffer.alloc(0)))).toEqual({ sizeBytes: 0 });
    expect((await read(await s().get(key))).length).toBe(0);
  });

  it("reports absent objects, deletes idempotently and copies", async () => {
    const key = newObjectKey();
    expect(await s().stat(key)).toBeUndefined();
    await expect(s().get(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    await s().delete(key);
    await s().put(key, chunked(Buffer.from("hello")));
    const copy = newObjectKey();
    await s().copy(key, copy);
    await s().delete(key);
    expect(await s().stat(key)).toBeUndefined();
    expect((await read(await s().get(copy))).toString()).toBe("hello");
    await expect(s().copy(key, newObjectKey())).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it("refuses keys it did not generate (no traversal, no display names)", async () => {
    for (const bad of ["../etc/passwd", "ab/cd/../../x", "/abs", "a.txt", `${newObjectKey()}/..`]) {
      await expect(s().put(bad, chunked(Buffer.from("x")))).rejects.toThrow(/invalid object key/);
      await expect(s().get(bad)).rejects.toThrow(/invalid object key/);
    }
  });

  it("assembles a multipart upload from parts in any order", async () => {
    const min = Math.max(s().minPartBytes, 5 * 1024 * 1024);
    const p1 = randomBytes(min);
    const p2 = randomBytes(1000);
    const key = newObjectKey();
    const id = await s().createMultipart(key);
    const b = await s().putPart(key, id, 2, chunked(p2), p2.length);
    const a = await s().putPart(key, id, 1, chunked(p1), p1.length);
    expect(a).toMatchObject({ partNumber: 1, sizeBytes: p1.length });
    const listed = await s().listParts(key, id);
    expect(listed.map((p) => [p.partNumber, p.sizeBytes, p.etag])).toEqual([
      [1, p1.length, a.etag],
      [2, p2.length, b.etag],
    ]);
    await s().completeMultipart(key, id, listed);
    expect(sha(await read(await s().get(key)))).toBe(sha(Buffer.concat([p1, p2])));
    await expect(s().listParts(key, id)).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it("aborts a multipart upload (and aborting twice is fine)", async () => {
    const key = newObjectKey();
    const id = await s().createMultipart(key);
    await s().putPart(key, id, 1, chunked(Buffer.from("part")), 4);
    await s().abortMultipart(key, id);
    await s().abortMultipart(key, id);
    await expect(s().listParts(key, id)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await s().stat(key)).toBeUndefined();
  });
});

describe("presigned URLs", () => {
  it("the fs driver cannot presign", async () => {
    expect(stores.fs!.presigns).toBe(false);
    await expect(stores.fs!.presignGet(newObjectKey(), { expiresInSeconds: 60 })).rejects.toBeInstanceOf(
      PresignUnsupportedError,
    );
  });

  it("a download URL reads one object as an attachment, and nothing else", async () => {
    const s3 = stores.s3!;
    const key = newObjectKey();
    const other = newObjectKey();
    await s3.put(key, chunked(Buffer.from("secret bytes")));
    await s3.put(other, chunked(Buffer.from("other")));
    const url = await s3.presignGet(key, {
      expiresInSeconds: 60,
      fileName: 'evil"\r\nSet-Cookie: x=1.txt',
      contentType: "text/plain",
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("secret bytes");
    const cd = res.headers.get("content-disposition") ?? "";
    expect(cd.startsWith('attachment; filename="evil___Set-Cookie: x=1.txt"')).toBe(true);
    expect(cd).not.toMatch(/[\r\n]/);
    expect(res.headers.get("set-cookie")).toBeNull();
    // Same signature, another key or another method: refused.
    expect((await fetch(url.replace(key, other))).status).toBe(403);
    expect((await fetch(url, { method: "PUT", body: "overwrite" })).status).toBe(403);
    expect((await read(await s3.get(key))).toString()).toBe("secret bytes");
  });

  it("a part URL uploads one part and cannot download", async () => {
    const s3 = stores.s3!;
    const key = newObjectKey();
    const id = await s3.createMultipart(key);
    const url = await s3.presignPart(key, id, 1, { expiresInSeconds: 60 });
    const put = await fetch(url, { method: "PUT", body: "tiny last part" });
    expect(put.status).toBe(200);
    expect((await fetch(url)).status).toBe(403);
    const parts = await s3.listParts(key, id);
    expect(parts).toEqual([{ partNumber: 1, etag: put.headers.get("etag"), sizeBytes: 14 }]);
    await s3.completeMultipart(key, id, parts);
    expect((await read(await s3.get(key))).toString()).toBe("tiny last part");
  });

  it("an expired URL is refused", async () => {
    const s3 = stores.s3!;
    const key = newObjectKey();
    await s3.put(key, chunked(Buffer.from("x")));
    const url = await s3.presignGet(key, { expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(url)).status).toBe(403);
  });
});
