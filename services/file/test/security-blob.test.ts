// Attacks on the blob data path (issue 12), against a real MinIO: presigned part URLs sign the
// exact size of their part (a session declared as 0 bytes cannot take a big part straight into
// S3); presigned URLs are scoped to one object and one method with a capped lifetime; relayed
// parts stream to S3 (tens of MiB arrive whole, a 64 MiB part is never held in memory); parts in
// flight are bounded per user and per process, and one user's cap leaves others working.
import { createHash, randomBytes } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import { newObjectKey, PartSizeMismatchError } from "@filemesh/kit/blob";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { collect, metadataOf, open, rpc, send, useFileMesh } from "./start-file.js";

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer) => `"${createHash("md5").update(b).digest("hex")}"`;

const t = useFileMesh({
  driver: "s3",
  env: {
    DEFAULT_QUOTA_BYTES: String(1024 * MiB),
    RELAY_PARTS_PER_USER: "2",
    RELAY_PARTS_PER_PROCESS: "3",
    PRESIGN_EXPIRY: "24h",
  },
});

type H = Record<string, string>;
const createUpload = (h: H, r: Partial<filev1.CreateUploadRequest>) =>
  rpc(t.f, t.f.createUpload, filev1.CreateUploadRequest.fromPartial(r), h).then((x) => x.upload!);
const partMessages = (uploadId: string, partNumber: number, data: Buffer, chunk = 256 * 1024) => {
  const msgs: filev1.UploadPartRequest[] = [];
  for (let i = 0; i === 0 || i < data.length; i += chunk) {
    msgs.push(
      filev1.UploadPartRequest.fromPartial({
        ...(i === 0 ? { uploadId, partNumber } : {}),
        body: { data: data.subarray(i, i + chunk) },
      }),
    );
  }
  return msgs;
};
const putPart = (h: H, uploadId: string, partNumber: number, data: Buffer) =>
  send(t.f, t.f.uploadPart, partMessages(uploadId, partNumber, data), h);
const put = (url: string, body: RequestInit["body"], extra: RequestInit = {}) =>
  fetch(url, { method: "PUT", body, ...extra }).then(async (r) => ({
    status: r.status,
    text: await r.text(),
  }));

describe("presigned part URLs sign the part's exact length", () => {
  it("a session declared as 0 bytes cannot take a part of any other size", async () => {
    const a = await t.mesh.newUser();
    const u = await createUpload(a.headers, { name: "empty.bin", sizeBytes: "0" });
    expect(u.partUrls).toHaveLength(1);
    const url = u.partUrls[0]!.url;
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toContain("content-length");
    const big = await put(url, randomBytes(6 * MiB));
    expect(big.status).toBe(403);
    expect(big.text).toContain("SignatureDoesNotMatch");
    expect((await put(url, Buffer.alloc(0))).status).toBe(200);
    const done = await rpc(
      t.f,
      t.f.completeUpload,
      filev1.CompleteUploadRequest.fromPartial({ uploadId: u.id }),
      a.headers,
    );
    expect(done.file).toMatchObject({ name: "empty.bin", sizeBytes: "0" });
  });

  it("more, fewer or chunked bytes are refused; the exact size goes in (also refreshed URLs)", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(5 * MiB + 10);
    const u = await createUpload(a.headers, {
      name: "two.bin",
      sizeBytes: String(data.length),
      partSizeBytes: String(5 * MiB),
      sha256: sha(data),
    });
    const [p1, p2] = [u.partUrls[0]!.url, u.partUrls[1]!.url];
    expect((await put(p2, Buffer.alloc(11))).status).toBe(403);
    expect((await put(p2, Buffer.alloc(9))).status).toBe(403);
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(10));
        c.close();
      },
    });
    // Without a Content-Length there is nothing to match: MinIO wants one (411) or refuses (403).
    expect([403, 411]).toContain((await put(p2, chunked, { duplex: "half" } as RequestInit)).status);
    expect((await put(p1, data.subarray(0, 5 * MiB + 1))).status).toBe(403);
    const none = await rpc(t.f, t.f.getUpload, { uploadId: u.id }, a.headers);
    expect([none.upload?.parts, none.upload?.committedSizeBytes]).toEqual([[], "0"]);
    expect((await put(p1, data.subarray(0, 5 * MiB))).status).toBe(200);
    const fresh = await rpc(t.f, t.f.refreshUploadUrls, { uploadId: u.id, partNumbers: [2] }, a.headers);
    const again = fresh.partUrls[0]!.url;
    expect((await put(again, randomBytes(MiB))).status).toBe(403);
    expect((await put(again, data.subarray(5 * MiB))).status).toBe(200);
    const done = await rpc(
      t.f,
      t.f.completeUpload,
      filev1.CompleteUploadRequest.fromPartial({ uploadId: u.id }),
      a.headers,
    );
    expect(done.file).toMatchObject({ sizeBytes: String(data.length), sha256: sha(data) });
  });
});

describe("presigned download URLs", () => {
  it("read one object with GET only, for at most 15 minutes whatever PRESIGN_EXPIRY says", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(1000);
    const f = (
      await send(
        t.f,
        t.f.uploadFile,
        [filev1.UploadFileRequest.fromPartial({ name: "dl.bin", body: { data } })],
        a.headers,
      )
    ).file!;
    const { url, expireTime } = await rpc(
      t.f,
      t.f.getDownloadUrl,
      { fileId: f.id, versionId: "" },
      a.headers,
    );
    expect(Number(new URL(url).searchParams.get("X-Amz-Expires"))).toBeLessThanOrEqual(900);
    expect(expireTime!.getTime()).toBeLessThanOrEqual(Date.now() + 900_000);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(sha(Buffer.from(await got.arrayBuffer()))).toBe(sha(data));
    for (const method of ["HEAD", "PUT", "DELETE"]) {
      const res = await fetch(url, {
        method,
        ...(method === "PUT" ? { body: "x" } : {}),
      });
      expect([method, res.status]).toEqual([method, 403]);
    }
    const key = new URL(url).pathname.split("/").slice(2).join("/");
    expect((await fetch(url.replace(key, newObjectKey()))).status).toBe(403);
    expect((await fetch(url)).status).toBe(200); // still there, unchanged
  });

  it("the driver itself caps a lifetime asked for beyond 15 minutes", async () => {
    const s3 = await storeOnTestBucket();
    const key = newObjectKey();
    const get = new URL(await s3.presignGet(key, { expiresInSeconds: 7 * 86_400 }));
    expect(get.searchParams.get("X-Amz-Expires")).toBe("900");
    const id = await s3.createMultipart(key);
    const part = new URL(await s3.presignPart(key, id, 1, { expiresInSeconds: 86_400, contentLength: 1 }));
    expect(part.searchParams.get("X-Amz-Expires")).toBe("900");
    await s3.abortMultipart(key, id);
  });
});

describe("the s3 driver's parts", () => {
  it("fail when the body is longer than the part, even after S3 answered for its bytes, or shorter", async () => {
    const s3 = await storeOnTestBucket();
    const key = newObjectKey();
    const id = await s3.createMultipart(key);
    async function* late() {
      yield Buffer.from("abc");
      await new Promise((r) => setTimeout(r, 500)); // S3 has its 3 bytes and answers meanwhile
      yield Buffer.from("d");
    }
    await expect(s3.putPart(key, id, 1, late(), 3)).rejects.toBeInstanceOf(PartSizeMismatchError);
    async function* short() {
      yield Buffer.from("ab");
    }
    await expect(s3.putPart(key, id, 2, short(), 3)).rejects.toBeInstanceOf(PartSizeMismatchError);
    expect((await s3.listParts(key, id)).map((p) => p.partNumber)).not.toContain(2);
    expect(await s3.putPart(key, id, 2, short(), 2)).toMatchObject({ partNumber: 2, sizeBytes: 2 });
    await s3.abortMultipart(key, id);
  });
});

/** A driver on a bucket of its own, on the mesh's MinIO. */
async function storeOnTestBucket() {
  const s3 = t.minio!.s3Store(uniqueId("cap").toLowerCase());
  await s3.init();
  return s3;
}

describe("relayed parts", () => {
  it("stream tens of MiB through to S3 with the right ETag and bytes", async () => {
    const a = await t.mesh.newUser();
    const data = randomBytes(24 * MiB + 3);
    const u = await createUpload(a.headers, {
      name: "relayed.bin",
      sizeBytes: String(data.length),
      partSizeBytes: String(24 * MiB),
      sha256: sha(data),
    });
    const p1 = await putPart(a.headers, u.id, 1, data.subarray(0, 24 * MiB));
    expect(p1.part).toMatchObject({
      partNumber: 1,
      sizeBytes: String(24 * MiB),
      etag: md5(data.subarray(0, 24 * MiB)),
    });
    // A part shorter than its share is refused and leaves nothing behind.
    expect(await failure(putPart(a.headers, u.id, 2, data.subarray(24 * MiB, 24 * MiB + 2)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PART_SIZE_MISMATCH",
    });
    await putPart(a.headers, u.id, 2, data.subarray(24 * MiB));
    const done = await rpc(
      t.f,
      t.f.completeUpload,
      filev1.CompleteUploadRequest.fromPartial({ uploadId: u.id }),
      a.headers,
    );
    expect(done.file).toMatchObject({ sizeBytes: String(data.length), sha256: sha(data) });
    const back = await collect(
      t.f.getFileContent(
        filev1.GetFileContentRequest.fromPartial({ fileId: done.file!.id }),
        metadataOf(a.headers),
      ),
    );
    expect(sha(Buffer.concat(back.map((m) => m.data)))).toBe(sha(data));
  });

  it("are bounded per user and per process; one user's cap leaves another working", async () => {
    const [a, b, c] = [await t.mesh.newUser(), await t.mesh.newUser(), await t.mesh.newUser()];
    const session = async (h: H) => {
      const data = randomBytes(2 * MiB);
      return { data, u: await createUpload(h, { name: "held.bin", sizeBytes: String(data.length) }) };
    };
    // Two of a's parts hold their slots: half their bytes sent, the rest not yet.
    const held = await Promise.all(
      [0, 1].map(async () => {
        const { data, u } = await session(a.headers);
        const call = open<filev1.UploadPartRequest, filev1.UploadPartResponse>(
          t.f,
          t.f.uploadPart,
          a.headers,
        );
        const msgs = partMessages(u.id, 1, data);
        for (const m of msgs.slice(0, msgs.length / 2)) call.stream.write(m);
        return { call, rest: msgs.slice(msgs.length / 2) };
      }),
    );
    await new Promise((r) => setTimeout(r, 500)); // both handlers are running
    const third = await session(a.headers);
    const refused = await failure(putPart(a.headers, third.u.id, 1, third.data));
    expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "TOO_MANY_PARTS_IN_FLIGHT" });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    // b is not a: b's part goes through (the third slot of the process).
    const other = await session(b.headers);
    const bHeld = open<filev1.UploadPartRequest, filev1.UploadPartResponse>(t.f, t.f.uploadPart, b.headers);
    const bMsgs = partMessages(other.u.id, 1, other.data);
    for (const m of bMsgs.slice(0, 1)) bHeld.stream.write(m);
    await new Promise((r) => setTimeout(r, 300));
    // The process is full now: c, with no part in flight, is told to come back.
    const cs = await session(c.headers);
    expect(await failure(putPart(c.headers, cs.u.id, 1, cs.data))).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      reason: "RELAY_BUSY",
    });
    for (const m of bMsgs.slice(1)) bHeld.stream.write(m);
    bHeld.stream.end();
    expect((await bHeld.done).res?.part?.sizeBytes).toBe(String(2 * MiB));
    for (const h of held) {
      for (const m of h.rest) h.call.stream.write(m);
      h.call.stream.end();
      const { err, res } = await h.call.done;
      expect(err).toBeNull();
      expect(res?.part?.sizeBytes).toBe(String(2 * MiB));
    }
    // Slots come back when parts finish.
    expect((await putPart(a.headers, third.u.id, 1, third.data)).part?.sizeBytes).toBe(String(2 * MiB));
    expect((await putPart(c.headers, cs.u.id, 1, cs.data)).part?.sizeBytes).toBe(String(2 * MiB));
  });
});
