// The `s3` driver (S3, MinIO): puts and deletes as lean signed requests (s3-lean.ts) — a body
// longer than one part as a multipart upload whose parts stream as they arrive — ranged
// GETs, native multipart uploads whose parts stream through (never held whole), and presigned
// URLs scoped to one object and one method, capped in lifetime; part URLs sign their length.

import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { AppError, unavailable } from "../errors.js";
import {
  attachmentDisposition,
  BlobNotFoundError,
  type BlobStore,
  checkKey,
  exactly,
  isObjectKey,
  type ListedUpload,
  MIN_PART_BYTES,
  PartSizeMismatchError,
  PRESIGN_MAX_SECONDS,
  type StoredPart,
  uploadAfter,
} from "./blob-store.js";
import { getLeanRequests } from "./s3-lean.js";
import { getPresigner } from "./s3-presign.js";

export interface S3Settings {
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  forcePathStyle: boolean;
  /** Part size of streamed puts of unknown length. */
  putPartBytes?: number;
}

const missing = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === "NoSuchKey" ||
    e?.name === "NotFound" ||
    e?.name === "NoSuchUpload" ||
    e?.$metadata?.httpStatusCode === 404
  );
};

/** A presigned URL's lifetime in whole seconds: at least 1, at most PRESIGN_MAX_SECONDS. */
const lifetime = (seconds: number) => Math.min(Math.max(1, Math.floor(seconds)), PRESIGN_MAX_SECONDS);

export function createS3Client(s: S3Settings): S3Client {
  return new S3Client({
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    ...(s.accessKeyId && s.secretAccessKey
      ? { credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } }
      : {}),
    // Presigned URLs must not carry checksum parameters the uploader cannot know in advance.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * What the store's callers see of a failed S3 call: "not found" and the store's refusals of the
 * request itself (4xx: `$fault` "client") as they are; anything else — the store unreachable,
 * a connection cut or reset, a timeout, a 5xx — is the store's fault, not the caller's, and
 * becomes UNAVAILABLE BLOB_STORE_UNAVAILABLE with a retry hint (never INTERNAL).
 */
export function storeFault(err: unknown): unknown {
  if (err instanceof AppError || missing(err)) return err;
  if ((err as { $fault?: string } | null)?.$fault === "client") return err;
  return unavailable("BLOB_STORE_UNAVAILABLE", "the object store is unavailable; retry shortly", 1000);
}

const FAULTS = "filemeshStoreFault";

/** Every command of `client` fails with storeFault's errors. */
function mapFaults(client: S3Client): void {
  if (client.middlewareStack.identify().some((m) => m.startsWith(FAULTS))) return;
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        throw storeFault(err);
      }
    },
    { step: "initialize", name: FAULTS },
  );
}

export function createS3Store(
  s: S3Settings,
  client: S3Client = createS3Client(s),
): BlobStore & { client: S3Client } {
  const Bucket = s.bucket;
  mapFaults(client);
  const presignGet = getPresigner(client, Bucket);
  const lean = getLeanRequests(client, Bucket);
  const partBytes = Math.max(MIN_PART_BYTES, s.putPartBytes ?? 8 * 1024 * 1024);
  const faulty = async (p: Promise<void>) => {
    try {
      await p;
    } catch (err) {
      throw storeFault(err);
    }
  };
  const send = async <T>(p: Promise<T>, key: string): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (missing(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  };
  return {
    client,
    driver: "s3",
    presigns: true,
    minPartBytes: MIN_PART_BYTES,
    async init() {
      try {
        await client.send(new HeadBucketCommand({ Bucket }));
      } catch (err) {
        if (!missing(err)) throw err;
        await client.send(new CreateBucketCommand({ Bucket })).catch((e: { name?: string }) => {
          if (e?.name !== "BucketAlreadyOwnedByYou") throw e;
        });
      }
    },
    async put(key, body) {
      // A body that ends within one part (every small upload) goes as one lean PutObject
      // (s3-lean.ts); a longer one as a lean multipart upload, the part read so far first, at most
      // two parts in flight. Either way memory stays within a few parts.
      const it = body[Symbol.asyncIterator]();
      const head: Uint8Array[] = [];
      let size = 0;
      while (size < partBytes) {
        const next = await it.next();
        if (next.done) {
          const whole =
            head.length === 1
              ? Buffer.from(head[0]!.buffer, head[0]!.byteOffset, head[0]!.byteLength)
              : Buffer.concat(head, size);
          await faulty(lean.put(checkKey(key), whole));
          return { sizeBytes: size };
        }
        head.push(next.value);
        size += next.value.byteLength;
      }
      // The body's own failures (too large, over quota, the client gone) are the caller's, as
      // they are: only the store's are storeFault's.
      let bodyFailure: unknown;
      const rest: AsyncIterator<Uint8Array> = {
        next: () =>
          it.next().catch((err: unknown) => {
            bodyFailure = err;
            throw err;
          }),
      };
      try {
        return { sizeBytes: await lean.putParts(checkKey(key), head, rest, partBytes) };
      } catch (err) {
        throw err === bodyFailure ? err : storeFault(err);
      }
    },
    async get(key, range) {
      if (range?.length === 0) return Readable.from([]);
      const Range =
        range && (range.offset > 0 || range.length !== undefined)
          ? `bytes=${range.offset}-${range.length !== undefined ? range.offset + range.length - 1 : ""}`
          : undefined;
      const res = await send(client.send(new GetObjectCommand({ Bucket, Key: checkKey(key), Range })), key);
      return res.Body as Readable;
    },
    async stat(key) {
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket, Key: checkKey(key) }));
        return { sizeBytes: Number(res.ContentLength ?? 0) };
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await faulty(lean.delete(checkKey(key)));
    },
    async copy(fromKey, toKey) {
      await send(
        client.send(
          new CopyObjectCommand({
            Bucket,
            Key: checkKey(toKey),
            CopySource: `${Bucket}/${checkKey(fromKey)}`,
          }),
        ),
        fromKey,
      );
    },
    async createMultipart(key) {
      const res = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: checkKey(key) }));
      if (!res.UploadId) throw new Error("S3 returned no upload id");
      return res.UploadId;
    },
    async putPart(key, uploadId, partNumber, body, sizeBytes) {
      // Streamed with its exact length (UploadPart needs one): memory stays at a few chunks
      // whatever the part's size. A body that turns out longer or shorter errors the stream;
      // the request is then aborted (a pipe alone would leave it waiting for the bytes).
      const abort = new AbortController();
      let failure: unknown;
      const source = Readable.from(exactly(body, sizeBytes), { objectMode: false });
      source.once("error", (err) => {
        failure = err;
        abort.abort();
      });
      try {
        const res = await client.send(
          new UploadPartCommand({
            Bucket,
            Key: checkKey(key),
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: source,
            ContentLength: sizeBytes,
          }),
          { abortSignal: abort.signal },
        );
        // S3 may answer once it has Content-Length bytes: the body must have ended there too
        // (more bytes behind them fail the call, though S3 keeps the exact-size prefix).
        if (!failure) for await (const _ of source) throw new PartSizeMismatchError(sizeBytes, sizeBytes + 1);
        if (failure) throw failure;
        return { partNumber, etag: res.ETag ?? "", sizeBytes };
      } catch (err) {
        if (failure) throw failure;
        if (missing(err)) throw new BlobNotFoundError(`multipart ${uploadId}`);
        throw err;
      } finally {
        source.destroy();
      }
    },
    async listParts(key, uploadId) {
      const parts: StoredPart[] = [];
      let marker: string | undefined;
      for (;;) {
        const res = await send(
          client.send(
            new ListPartsCommand({
              Bucket,
              Key: checkKey(key),
              UploadId: uploadId,
              PartNumberMarker: marker,
            }),
          ),
          `multipart ${uploadId}`,
        );
        for (const p of res.Parts ?? []) {
          parts.push({ partNumber: p.PartNumber ?? 0, etag: p.ETag ?? "", sizeBytes: Number(p.Size ?? 0) });
        }
        if (!res.IsTruncated) return parts;
        marker = res.NextPartNumberMarker;
      }
    },
    async completeMultipart(key, uploadId, parts) {
      const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
      await send(
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: checkKey(key),
            UploadId: uploadId,
            MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        ),
        `multipart ${uploadId}`,
      );
    },
    async abortMultipart(key, uploadId) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket, Key: checkKey(key), UploadId: uploadId }))
        .catch((err) => {
          if (!missing(err)) throw err;
        });
    },
    async *listObjects(o = {}) {
      let token: string | undefined;
      do {
        const res = await client.send(
          new ListObjectsV2Command({
            Bucket,
            MaxKeys: Math.min(Math.max(o.pageSize ?? 1000, 1), 1000),
            ...(token ? { ContinuationToken: token } : o.startAfter ? { StartAfter: o.startAfter } : {}),
          }),
        );
        for (const c of res.Contents ?? []) {
          if (!c.Key || !isObjectKey(c.Key)) continue;
          yield { key: c.Key, sizeBytes: Number(c.Size ?? 0), modifiedTime: c.LastModified ?? new Date(0) };
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    },
    async *listMultipartUploads(o = {}) {
      // Each page is sorted and filtered here too: MinIO answers every upload in one page, in
      // no particular order, and ignores the markers.
      let marker: { KeyMarker?: string; UploadIdMarker?: string | undefined } = o.after
        ? { KeyMarker: o.after.key, UploadIdMarker: o.after.uploadId }
        : {};
      for (;;) {
        const res = await client.send(new ListMultipartUploadsCommand({ Bucket, ...marker }));
        const page: ListedUpload[] = (res.Uploads ?? [])
          .filter((u) => u.Key && u.UploadId && isObjectKey(u.Key))
          .map((u) => ({ key: u.Key!, uploadId: u.UploadId!, initiatedTime: u.Initiated ?? new Date(0) }))
          .filter((u) => uploadAfter(u, o.after))
          .sort((x, y) => (uploadAfter(x, y) ? 1 : -1));
        yield* page;
        if (!res.IsTruncated || !res.NextKeyMarker) return;
        marker = { KeyMarker: res.NextKeyMarker, UploadIdMarker: res.NextUploadIdMarker };
      }
    },
    presignGet(key, o) {
      return presignGet(checkKey(key), {
        expiresIn: lifetime(o.expiresInSeconds),
        disposition: attachmentDisposition(o.fileName ?? "download"),
        contentType: o.contentType,
      });
    },
    async presignPart(key, uploadId, partNumber, o) {
      if (!Number.isSafeInteger(o.contentLength) || o.contentLength < 0)
        throw new Error(`invalid part length ${o.contentLength}`);
      // ContentLength puts `content-length` among the signed headers (X-Amz-SignedHeaders=
      // content-length;host): S3 refuses a PUT of any other length, or one sent chunked.
      const cmd = new UploadPartCommand({
        Bucket,
        Key: checkKey(key),
        UploadId: uploadId,
        PartNumber: partNumber,
        ContentLength: o.contentLength,
      });
      return getSignedUrl(client, cmd, { expiresIn: lifetime(o.expiresInSeconds) });
    },
  };
}
