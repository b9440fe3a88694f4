// One contract for every BlobStore driver: fs on a temp directory, s3 against a real MinIO
// started by the test. Presigned URL scope and expiry are checked against MinIO itself.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attachmentDisposition,
  BlobNotFoundError,
  type BlobStore,
  createFsStore,
  createS3Store,
  type ListedObject,
  type ListedUpload,
  newObjectKey,
  PresignUnsupportedError,
  thumbnailKey,
} from "../src/blob/index.js";
import { getPresigner } from "../src/blob/s3-presign.js";
import { createS3Client } from "../src/blob/s3-store.js";

const read = async (r: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
};
async function* chunked(b: Buffer, size = 64 * 1024) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const keysOf = (xs: { key: string }[]) => xs.map((x) => x.key);

let minio: TestMinio;
let dir: string;
const stores: Record<string, BlobStore> = {};

/** A store of `driver` on a directory or bucket of its own (listings see only what a test put). */
async function freshStore(driver: string): Promise<BlobStore & { root: string }> {
  const root = driver === "fs" ? mkdtempSync(join(dir, "store-")) : uniqueId("b").toLowerCase();
  const store =
    driver === "fs"
      ? createFsStore(root)
      : createS3Store({
          endpoint: minio.endpoint,
          region: minio.region,
          bucket: root,
          accessKeyId: minio.accessKeyId,
          secretAccessKey: minio.secretAccessKey,
          forcePathStyle: true,
          putPartBytes: 5 * 1024 * 1024,
        });
  await store.init();
  return Object.assign(store, { root });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "filemesh-blobs-"));
  minio = await startTestMinio();
  stores.fs = await freshStore("fs");
  stores.s3 = await freshStore("s3");
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

describe.each(["fs", "s3"])("BlobStore listings (%s)", (driver) => {
  it("lists the objects it generated in key order, after a key, page by page, with their times", async () => {
    const s = await freshStore(driver);
    const before = Date.now();
    const keys = Array.from({ length: 5 }, newObjectKey);
    keys.push(thumbnailKey(keys[0]!));
    for (const k of keys) await s.put(k, chunked(Buffer.from(k)));
    const after = Date.now();
    // Not ours: another shape of key is never listed (so never reconciled away).
    if (driver === "s3") {
      const client = (s as unknown as { client: { send(c: unknown): Promise<unknown> } }).client;
      await client.send(new PutObjectCommand({ Bucket: s.root, Key: "foreign/readme.txt", Body: "x" }));
    } else {
      mkdirSync(join(s.root, "objects", "zz", "00"), { recursive: true });
      writeFileSync(join(s.root, "objects", "zz", "00", "readme.txt"), "x");
      writeFileSync(join(s.root, "objects", "notes.txt"), "x");
    }
    const sorted = [...keys].sort();
    const listed: ListedObject[] = await all(s.listObjects());
    expect(keysOf(listed)).toEqual(sorted);
    for (const o of listed) {
      expect(o.sizeBytes).toBe(o.key.length);
      expect(o.modifiedTime.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(o.modifiedTime.getTime()).toBeLessThanOrEqual(after + 1000);
    }
    expect(keysOf(await all(s.listObjects({ startAfter: sorted[1]! })))).toEqual(sorted.slice(2));
    expect(keysOf(await all(s.listObjects({ startAfter: sorted[5]! })))).toEqual([]);
    expect(keysOf(await all(s.listObjects({ startAfter: sorted[0]!, pageSize: 2 })))).toEqual(
      sorted.slice(1),
    );
    await s.delete(sorted[3]!);
    expect(keysOf(await all(s.listObjects({ pageSize: 1 })))).toEqual(sorted.filter((_, i) => i !== 3));
  });

  it("lists multipart uploads in progress with their start time, in (key, id) order", async () => {
    const s = await freshStore(driver);
    const before = Date.now();
    const made: ListedUpload[] = [];
    for (let i = 0; i < 3; i++) {
      const key = newObjectKey();
      made.push({ key, uploadId: await s.createMultipart(key), initiatedTime: new Date() });
    }
    const after = Date.now();
    const order = [...made].sort((x, y) => (x.key < y.key ? -1 : 1));
    const listed = await all(s.listMultipartUploads());
    expect(listed.map((u) => [u.key, u.uploadId])).toEqual(order.map((u) => [u.key, u.uploadId]));
    for (const u of listed) {
      expect(u.initiatedTime.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(u.initiatedTime.getTime()).toBeLessThanOrEqual(after + 1000);
    }
    const rest = await all(s.listMultipartUploads({ after: order[0]! }));
    expect(rest.map((u) => u.uploadId)).toEqual(order.slice(1).map((u) => u.uploadId));
    // Completed and aborted uploads are no longer in progress.
    const [a, b, c] = order as [ListedUpload, ListedUpload, ListedUpload];
    await s.abortMultipart(b.key, b.uploadId);
    const part = await s.putPart(c.key, c.uploadId, 1, chunked(Buffer.from("last part")), 9);
    await s.completeMultipart(c.key, c.uploadId, [part]);
    expect((await all(s.listMultipartUploads())).map((u) => u.uploadId)).toEqual([a.uploadId]);
    expect(keysOf(await all(s.listObjects()))).toEqual([c.key]);
  });
});

describe("fs multipart directories without a recorded key", () => {
  it("are listed with an empty key and can be aborted", async () => {
    const s = await freshStore("fs");
    const id = "0b9d4e3c-6f7a-4b8e-9c1d-2e3f4a5b6c7d";
    mkdirSync(join(s.root, "multipart", id), { recursive: true });
    writeFileSync(join(s.root, "multipart", id, "00001"), "part");
    expect((await all(s.listMultipartUploads())).map((u) => [u.key, u.uploadId])).toEqual([["", id]]);
    await s.abortMultipart("", id);
    expect(await all(s.listMultipartUploads())).toEqual([]);
  });
});

describe("fs object directories", () => {
  it("are made once, and again when one was removed behind the store's back", async () => {
    const s = await freshStore("fs");
    const a = newObjectKey();
    const b = `${a.slice(0, 6)}${newObjectKey().slice(6)}`; // the same <a>/<b> directory
    await s.put(a, chunked(Buffer.from("first")));
    // The directory (and the object in it) go, as an operator's clean-up would take them.
    rmSync(join(s.root, "objects", a.slice(0, 5)), { recursive: true, force: true });
    await s.put(b, chunked(Buffer.from("second")));
    expect(await s.stat(a)).toBeUndefined();
    expect((await read(await s.get(b))).toString()).toBe("second");
    await s.put(a, chunked(Buffer.from("again")));
    expect((await read(await s.get(a))).toString()).toBe("again");
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

  it("download URLs are the SDK's own, parameter for parameter (custom endpoint, virtual host, path style)", async () => {
    // The presigner signs without the SDK's command pipeline; at the same instant its URLs
    // must be exactly what getSignedUrl makes. (A wrong one would fail the MinIO tests above
    // only for the custom endpoint; this covers AWS's styles too.)
    const at = new Date("2026-01-02T03:04:05Z");
    const disposition = attachmentDisposition('résumé "final" (1) *.pdf');
    for (const settings of [
      { endpoint: "http://127.0.0.1:9000", region: "us-east-1", bucket: "filemesh", forcePathStyle: true },
      { region: "eu-west-1", bucket: "my-bucket", forcePathStyle: false },
      { region: "eu-west-1", bucket: "my-bucket", forcePathStyle: true },
    ]) {
      const client = createS3Client({
        ...settings,
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI",
      });
      const key = newObjectKey();
      for (const contentType of ["application/pdf", undefined]) {
        const ours = new URL(
          await getPresigner(client, settings.bucket)(key, {
            expiresIn: 900,
            disposition,
            contentType,
            signingDate: at,
          }),
        );
        const sdk = new URL(
          await getSignedUrl(
            client,
            new GetObjectCommand({
              Bucket: settings.bucket,
              Key: key,
              ResponseContentDisposition: disposition,
              ...(contentType ? { ResponseContentType: contentType } : {}),
            }),
            { expiresIn: 900, signingDate: at },
          ),
        );
        expect(ours.origin + ours.pathname).toBe(sdk.origin + sdk.pathname);
        expect(Object.fromEntries(ours.searchParams)).toEqual(Object.fromEntries(sdk.searchParams));
      }
      client.destroy();
    }
  });

  it("a part URL uploads one part and cannot download", async () => {
    const s3 = stores.s3!;
    const key = newObjectKey();
    const id = await s3.createMultipart(key);
    const url = await s3.presignPart(key, id, 1, { expiresInSeconds: 60, contentLength: 14 });
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

describe("s3 faults", () => {
  it("an unreachable store is UNAVAILABLE BLOB_STORE_UNAVAILABLE with a retry hint, never a raw error", async () => {
    const { freePort } = await import("@filemesh/kit/testing");
    const closed = await freePort();
    const away = createS3Store({
      endpoint: `http://127.0.0.1:${closed}`,
      region: minio.region,
      bucket: "away",
      accessKeyId: minio.accessKeyId,
      secretAccessKey: minio.secretAccessKey,
      forcePathStyle: true,
    });
    const key = newObjectKey();
    const calls: [string, () => Promise<unknown>][] = [
      ["get", () => away.get(key)],
      ["stat", () => away.stat(key)],
      ["put", () => away.put(key, chunked(randomBytes(1000)))],
      ["createMultipart", () => away.createMultipart(key)],
      ["putPart", () => away.putPart(key, "u", 1, chunked(randomBytes(100)), 100)],
      ["copy", () => away.copy(key, newObjectKey())],
    ];
    for (const [name, call] of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e as { code?: number; reason?: string; details?: { retryAfterMs?: number } },
      );
      expect(err, name).toMatchObject({ code: 14, reason: "BLOB_STORE_UNAVAILABLE" });
      expect(err?.details?.retryAfterMs, name).toBe(1000);
    }
  });

  it("the store's refusals of the request stay what they are (not found, bad credentials)", async () => {
    const s3 = stores.s3!;
    await expect(s3.get(newObjectKey())).rejects.toBeInstanceOf(BlobNotFoundError);
    const wrong = createS3Store({
      endpoint: minio.endpoint,
      region: minio.region,
      bucket: (stores.s3 as BlobStore & { root: string }).root,
      accessKeyId: "nobody",
      secretAccessKey: "wrong-secret-key",
      forcePathStyle: true,
    });
    const err = await wrong.stat(newObjectKey()).then(
      () => undefined,
      (e: unknown) => e as { reason?: string; $fault?: string },
    );
    expect(err?.reason).toBeUndefined();
    expect(err?.$fault).toBe("client");
  });
});

/** An s3 store on a local HTTP server playing S3 (5 MiB parts), signed with MinIO's keys. */
const fakeStore = (server: Server) =>
  createS3Store({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: minio.region,
    bucket: "fake",
    accessKeyId: minio.accessKeyId,
    secretAccessKey: minio.secretAccessKey,
    forcePathStyle: true,
    putPartBytes: 5 * 1024 * 1024,
  });

describe("s3 lean requests (small puts, deletes)", () => {
  it("a body within one part is one signed PUT outside the SDK's command pipeline; a longer one is multipart", async () => {
    const store = (await freshStore("s3")) as unknown as BlobStore & {
      root: string;
      client: import("@aws-sdk/client-s3").S3Client;
    };
    // The store learns its addressing once, from one presigned URL (a GetObjectCommand).
    await store.put(newObjectKey(), chunked(Buffer.from("warm")));
    const commands: string[] = [];
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize", name: "countCommands" },
    );
    const small = randomBytes(70_000);
    const key = newObjectKey();
    expect(await store.put(key, chunked(small, 30_000))).toEqual({ sizeBytes: small.length });
    expect(commands).toEqual([]);
    expect(sha(await read(await store.get(key)))).toBe(sha(small));
    commands.length = 0;
    await store.delete(key);
    expect(commands).toEqual([]);
    expect(await store.stat(key)).toBeUndefined();
    await store.delete(key); // absent: no error, as in S3
    commands.length = 0;
    // Longer than one part (5 MiB here): a lean multipart upload, parts of exactly the part size
    // cut from chunks that do not line up with it, no SDK command either.
    const large = randomBytes(2 * 5 * 1024 * 1024 + 7);
    const big = newObjectKey();
    expect(await store.put(big, chunked(large, 77_777))).toEqual({ sizeBytes: large.length });
    expect(commands).toEqual([]);
    expect(sha(await read(await store.get(big)))).toBe(sha(large));
    const head = await store.client.send(new HeadObjectCommand({ Bucket: store.root, Key: big }));
    expect([head.ContentLength, head.ETag?.endsWith('-3"')]).toEqual([large.length, true]);
  });

  it("a multipart put whose body fails midway aborts the upload and throws the body's own error", async () => {
    const store = await freshStore("s3");
    const key = newObjectKey();
    const gone = new Error("the client went away");
    async function* body() {
      yield* chunked(randomBytes(11 * 1024 * 1024));
      throw gone;
    }
    expect(
      await store.put(key, body()).then(
        () => undefined,
        (e: unknown) => e,
      ),
    ).toBe(gone);
    expect(await all(store.listMultipartUploads())).toEqual([]);
    expect(await store.stat(key)).toBeUndefined();
  });

  it("a refused PUT or DELETE is the store's answer (wrong credentials), and nothing is written", async () => {
    const root = (stores.s3 as BlobStore & { root: string }).root;
    const wrong = createS3Store({
      endpoint: minio.endpoint,
      region: minio.region,
      bucket: root,
      accessKeyId: "nobody",
      secretAccessKey: "wrong-secret-key",
      forcePathStyle: true,
    });
    const key = newObjectKey();
    for (const call of [() => wrong.put(key, chunked(Buffer.from("x"))), () => wrong.delete(key)]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) =>
          e as { name?: string; reason?: string; $fault?: string; $metadata?: { httpStatusCode?: number } },
      );
      expect(err?.reason).toBeUndefined();
      expect(err?.$fault).toBe("client");
      expect(err?.name).toBe("InvalidAccessKeyId");
      expect(err?.$metadata?.httpStatusCode).toBe(403);
    }
    expect(await stores.s3!.stat(key)).toBeUndefined();
  });

  it("retries the store's faults twice, signs every attempt, and does not retry a refusal", async () => {
    const seen: {
      method?: string | undefined;
      url?: string | undefined;
      headers: IncomingHttpHeaders;
      body: Buffer;
    }[] = [];
    let answers: number[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        const status = answers.shift() ?? 200;
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(
          status < 300
            ? ""
            : `<Error><Code>${status === 403 ? "AccessDenied" : "SlowDown"}</Code><Message>m</Message></Error>`,
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const fake = fakeStore(server);
      const key = newObjectKey();
      answers = [503, 500];
      expect(await fake.put(key, chunked(Buffer.from("hello")))).toEqual({ sizeBytes: 5 });
      expect(seen.map((r) => [r.method, r.url, r.body.toString()])).toEqual(
        Array.from({ length: 3 }, () => ["PUT", `/fake/${key}`, "hello"]),
      );
      for (const r of seen) {
        expect(r.headers.authorization).toMatch(
          /^AWS4-HMAC-SHA256 Credential=.+SignedHeaders=.*content-length.*Signature=[0-9a-f]{64}$/,
        );
        expect(r.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
      }
      seen.length = 0;
      answers = [503, 503, 503];
      const down = await fake.delete(key).then(
        () => undefined,
        (e: unknown) => e as { code?: number; reason?: string },
      );
      expect(down).toMatchObject({ code: 14, reason: "BLOB_STORE_UNAVAILABLE" });
      expect(seen.map((r) => r.method)).toEqual(["DELETE", "DELETE", "DELETE"]);
      seen.length = 0;
      answers = [403];
      const refused = await fake.put(key, chunked(Buffer.from("x"))).then(
        () => undefined,
        (e: unknown) => e as { name?: string; $fault?: string },
      );
      expect(refused).toMatchObject({ name: "AccessDenied", $fault: "client" });
      expect(seen.length).toBe(1);
    } finally {
      server.close();
    }
  });

  it("a multipart put: unsigned parts of the part size, at most two in flight, faults retried, a 200 carrying an error too", async () => {
    const seen: {
      method?: string | undefined;
      url?: string | undefined;
      headers: IncomingHttpHeaders;
      size: number;
      body: string;
    }[] = [];
    let inFlight = 0;
    let most = 0;
    const part3Failures = [503];
    let completeAnswers = ["<Error><Code>InternalError</Code><Message>later</Message></Error>"];
    const server = createServer((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url ?? "", "http://x");
        seen.push({
          method: req.method,
          url: req.url,
          headers: req.headers,
          size: body.length,
          body: body.length < 4096 ? body.toString() : "",
        });
        // Parts answer a little later, so that they overlap if the writer lets them.
        setTimeout(() => {
          inFlight--;
          const n = url.searchParams.get("partNumber");
          if (req.method === "POST" && url.searchParams.has("uploads")) {
            res.end(
              "<InitiateMultipartUploadResult><UploadId>up/1+=</UploadId></InitiateMultipartUploadResult>",
            );
          } else if (n) {
            if (n === "3" && part3Failures.length) {
              res.writeHead(part3Failures.shift()!);
              res.end("<Error><Code>SlowDown</Code></Error>");
              return;
            }
            res.writeHead(200, { etag: `"etag-${n}"` });
            res.end();
          } else if (req.method === "POST") {
            res.end(
              completeAnswers.shift() ??
                "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>",
            );
          } else {
            res.writeHead(204);
            res.end();
          }
        }, 30);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const fake = fakeStore(server);
      const key = newObjectKey();
      const data = randomBytes(4 * 5 * 1024 * 1024 + 3);
      expect(await fake.put(key, chunked(data, 100_000))).toEqual({ sizeBytes: data.length });
      const calls = seen.map((r) => {
        const u = new URL(r.url ?? "", "http://x");
        return `${r.method} ${u.pathname} ${[...u.searchParams].map(([k, v]) => `${k}=${v}`).join("&")} ${r.size}`;
      });
      const part = 5 * 1024 * 1024;
      expect(calls[0]).toBe(`POST /fake/${key} uploads= 0`);
      expect(calls.filter((c) => c.startsWith("PUT")).sort()).toEqual(
        [
          `PUT /fake/${key} partNumber=1&uploadId=up/1+= ${part}`,
          `PUT /fake/${key} partNumber=2&uploadId=up/1+= ${part}`,
          `PUT /fake/${key} partNumber=3&uploadId=up/1+= ${part}`,
          `PUT /fake/${key} partNumber=3&uploadId=up/1+= ${part}`,
          `PUT /fake/${key} partNumber=4&uploadId=up/1+= ${part}`,
          `PUT /fake/${key} partNumber=5&uploadId=up/1+= 3`,
        ].sort(),
      );
      const completes = seen.filter((r) => r.method === "POST" && !r.url?.includes("uploads"));
      expect(completes.length).toBe(2); // the 200 carrying an error was retried
      expect(completes[1]!.body).toBe(
        `<CompleteMultipartUpload>${[1, 2, 3, 4, 5].map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>"etag-${n}"</ETag></Part>`).join("")}</CompleteMultipartUpload>`,
      );
      expect(seen.some((r) => r.method === "DELETE")).toBe(false);
      expect(most).toBeLessThanOrEqual(2);
      for (const r of seen) expect(r.headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");

      // A part the store keeps refusing: the upload is aborted, the error is the store's.
      seen.length = 0;
      part3Failures.push(503, 503, 503);
      completeAnswers = [];
      const down = await fake.put(newObjectKey(), chunked(data, 100_000)).then(
        () => undefined,
        (e: unknown) => e as { code?: number; reason?: string },
      );
      expect(down).toMatchObject({ code: 14, reason: "BLOB_STORE_UNAVAILABLE" });
      expect(
        seen.filter((r) => r.method === "DELETE").map((r) => new URL(r.url ?? "", "http://x").search),
      ).toEqual(["?uploadId=up%2F1%2B%3D"]);
      expect(seen.some((r) => r.method === "POST" && !r.url?.includes("uploads"))).toBe(false);
    } finally {
      server.close();
    }
  });
});
