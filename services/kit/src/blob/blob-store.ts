// Where file bytes live. Two drivers implement it: `fs` (a directory; the default for local
// runs) and `s3` (S3 or MinIO). Keys are server-generated (newObjectKey) and never derived
// from a display name; both drivers refuse anything else.
import { createHash, randomUUID } from "node:crypto";
import type { Readable } from "node:stream";

export type BlobBody = AsyncIterable<Uint8Array> | Readable;

export interface ByteRange {
  offset: number;
  /** Bytes to read from offset; undefined: to the end. */
  length?: number | undefined;
}

export interface StoredPart {
  partNumber: number;
  etag: string;
  sizeBytes: number;
}

/** An object as a listing reports it. */
export interface ListedObject {
  key: string;
  sizeBytes: number;
  modifiedTime: Date;
}

/** A multipart upload in progress (created, neither completed nor aborted). */
export interface ListedUpload {
  /** The key it completes to; "" for an fs upload directory made before keys were recorded. */
  key: string;
  uploadId: string;
  initiatedTime: Date;
}

export interface PresignOptions {
  /** Lifetime; drivers cap it at PRESIGN_MAX_SECONDS whatever is asked. */
  expiresInSeconds: number;
  /** Download: the attachment file name and content type the response carries. */
  fileName?: string;
  contentType?: string;
}

export interface PartPresignOptions {
  expiresInSeconds: number;
  /**
   * The exact size the part must have. It is signed into the URL (`content-length` is a
   * signed header), so the store refuses a PUT of any other length (or a chunked one): a
   * session cannot take more bytes than it declared and reserved quota for.
   */
  contentLength: number;
}

/** Hard cap of any presigned URL's lifetime (15 minutes), enforced by the drivers too. */
export const PRESIGN_MAX_SECONDS = 15 * 60;

export interface BlobStore {
  readonly driver: "fs" | "s3";
  /** True when presign* work (s3); the fs driver answers FAILED_PRECONDITION for them. */
  readonly presigns: boolean;
  /** Smallest part a multipart upload accepts (the last part may be smaller). */
  readonly minPartBytes: number;
  /** Creates the bucket or directory if missing. */
  init(): Promise<void>;
  /** Stores a whole object from a stream of unknown length; returns the size written. */
  put(key: string, body: BlobBody): Promise<{ sizeBytes: number }>;
  /** The object's bytes (or a range of them) as a stream; NOT_FOUND error when absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size of the object, or undefined when absent. */
  stat(key: string): Promise<{ sizeBytes: number } | undefined>;
  /** Removes the object; absent is fine. */
  delete(key: string): Promise<void>;
  copy(fromKey: string, toKey: string): Promise<void>;
  createMultipart(key: string): Promise<string>;
  /**
   * Stores one part of exactly `sizeBytes` bytes, streamed (never held whole in memory). A
   * body of another length fails with PartSizeMismatchError (or the body's own error) and
   * leaves no part behind — except on S3 after a longer body, whose first `sizeBytes` S3 may
   * already have taken (the call fails all the same).
   */
  putPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: BlobBody,
    sizeBytes: number,
  ): Promise<StoredPart>;
  listParts(key: string, uploadId: string): Promise<StoredPart[]>;
  completeMultipart(key: string, uploadId: string, parts: StoredPart[]): Promise<void>;
  /** Discards the parts; an unknown upload id is fine. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /**
   * Objects with server-generated keys (checkKey; anything else in the bucket or directory is
   * skipped) after `startAfter`, in key order (bytewise), fetched `pageSize` at a time.
   */
  listObjects(o?: { startAfter?: string; pageSize?: number }): AsyncIterable<ListedObject>;
  /** Multipart uploads in progress, in (key, upload id) order, after `after`. */
  listMultipartUploads(o?: { after?: { key: string; uploadId: string } }): AsyncIterable<ListedUpload>;
  /** A URL that GETs this one object until it expires. */
  presignGet(key: string, o: PresignOptions): Promise<string>;
  /** A URL that PUTs one part of one multipart upload, of exactly `contentLength` bytes, until it expires. */
  presignPart(key: string, uploadId: string, partNumber: number, o: PartPresignOptions): Promise<string>;
}

export class BlobNotFoundError extends Error {
  constructor(key: string) {
    super(`no object ${key}`);
    this.name = "BlobNotFoundError";
  }
}

/** A part's body was not the length it had to be. */
export class PartSizeMismatchError extends Error {
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`part must have ${expected} bytes, got ${received}${received > expected ? "+" : ""}`);
    this.name = "PartSizeMismatchError";
  }
}

export class PresignUnsupportedError extends Error {
  constructor() {
    super("this blob store cannot presign URLs");
    this.name = "PresignUnsupportedError";
  }
}

// "ab/cd/<uuid>": two levels of hex prefixes spread objects over directories / S3 partitions.
const KEY = /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh server-generated object key. */
export function newObjectKey(): string {
  const id = randomUUID();
  const hex = id.replaceAll("-", "");
  return `${hex.slice(-2)}/${hex.slice(-4, -2)}/${id}`;
}

/** Whether `key` is one newObjectKey (or thumbnailKey) could have made. */
export const isObjectKey = (key: string): boolean => KEY.test(key);

/** (key, upload id) strictly after `after`, bytewise (the listing order of multipart uploads). */
export const uploadAfter = (
  u: { key: string; uploadId: string },
  after?: { key: string; uploadId: string },
) => !after || u.key > after.key || (u.key === after.key && u.uploadId > after.uploadId);

/** Throws unless `key` is one newObjectKey could have made (no traversal, no names). */
export function checkKey(key: string): string {
  if (!isObjectKey(key)) throw new Error(`invalid object key ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}

/**
 * Where the processor puts the thumbnail of a version: derived from the version's object key,
 * in the same shape as every generated key, so it is found and deleted from that key alone.
 */
export function thumbnailKey(objectKey: string): string {
  const h = createHash("sha256").update(`filemesh.thumbnail.v1\n${objectKey}`).digest("hex");
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return `${h.slice(30, 32)}/${h.slice(28, 30)}/${id}`;
}

/**
 * `body` passed on as it streams, failing with PartSizeMismatchError as soon as it is longer
 * than `size` (before the extra bytes go anywhere) or when it ends shorter.
 */
export async function* exactly(body: BlobBody, size: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const raw of body as AsyncIterable<Uint8Array>) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    n += chunk.length;
    if (n > size) throw new PartSizeMismatchError(size, n);
    yield chunk;
  }
  if (n !== size) throw new PartSizeMismatchError(size, n);
}

export const MAX_PARTS = 10_000;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;

/** `attachment; filename="…"; filename*=UTF-8''…` with nothing a header could be split by. */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, "_").slice(0, 150) || "download";
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * Cuts a stream of chunks into parts of exactly `partBytes` bytes without copying a byte: a
 * part is the chunks themselves, the one crossing its end cut into two views. Concatenating
 * each part instead allocates a part-sized buffer per part, which kept V8's collector busy for
 * 40 % of the file service's time in a 256 MiB upload (bench/README.md, stop 32).
 */
export class PartCutter {
  private part: Uint8Array[] = [];
  private filled = 0;
  constructor(private readonly partBytes: number) {}

  /** Bytes taken that are not yet in a whole part. */
  get pending(): number {
    return this.filled;
  }

  /** Takes `chunk`; the parts it completed, each `partBytes` in all. */
  push(chunk: Uint8Array): Uint8Array[][] {
    const done: Uint8Array[][] = [];
    while (chunk.byteLength > 0) {
      const n = Math.min(this.partBytes - this.filled, chunk.byteLength);
      this.part.push(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
      this.filled += n;
      chunk = chunk.subarray(n);
      if (this.filled === this.partBytes) done.push(this.rest());
    }
    return done;
  }

  /** The bytes pending, as a (last, shorter) part; empty when the stream ended on a part's end. */
  rest(): Uint8Array[] {
    const part = this.part;
    this.part = [];
    this.filled = 0;
    return part;
  }
}

/**
 * Copies a stream of chunks into parts of exactly `partBytes` bytes, in part buffers it reuses:
 * `release` gives a part's buffer back once its bytes are stored. The chunks are then garbage
 * at once (they die young), where a part made of the chunks themselves (`PartCutter`) keeps them
 * alive until the part is stored: long enough for V8 to promote them, and every 64 MiB of
 * promoted buffers sets off a full collection (45 % of the file service's time in a native
 * 256 MiB upload; bench/README.md, stop 35). One copy of each byte costs far less.
 */
export class PartFiller {
  #part: Buffer | undefined;
  #filled = 0;
  #free: Buffer | undefined;
  constructor(readonly partBytes: number) {}

  /** Bytes taken that are not yet in a whole part. */
  get pending(): number {
    return this.#filled;
  }

  /** Takes `chunk`; the parts it completed, each a buffer of `partBytes`. */
  push(chunk: Uint8Array): Buffer[] {
    const done: Buffer[] = [];
    for (let p = 0; p < chunk.byteLength; ) {
      const part = this.#part ?? this.#take();
      const n = Math.min(this.partBytes - this.#filled, chunk.byteLength - p);
      part.set(n === chunk.byteLength ? chunk : chunk.subarray(p, p + n), this.#filled);
      this.#filled += n;
      p += n;
      if (this.#filled === this.partBytes) {
        done.push(part);
        this.#part = undefined;
        this.#filled = 0;
      }
    }
    return done;
  }

  /** The bytes pending, as a (last, shorter) part; empty when the stream ended on a part's end. */
  rest(): Buffer {
    const rest = this.#part?.subarray(0, this.#filled) ?? Buffer.alloc(0);
    this.#part = undefined;
    this.#filled = 0;
    return rest;
  }

  /** Gives back a whole part from `push` whose bytes are stored (nothing refers to it any more). */
  release(part: Buffer): void {
    if (part.length === this.partBytes) this.#free = part;
  }

  #take(): Buffer {
    const part = this.#free ?? Buffer.allocUnsafe(this.partBytes);
    this.#free = undefined;
    this.#part = part;
    return part;
  }
}
