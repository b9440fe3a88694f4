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
  expiresInSeconds: number;
  /** Download: the attachment file name and content type the response carries. */
  fileName?: string;
  contentType?: string;
}

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
  /** Stores one part; `sizeBytes` is the exact length of `body` when known. */
  putPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: BlobBody,
    sizeBytes?: number,
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
  /** A URL that PUTs one part of one multipart upload until it expires. */
  presignPart(key: string, uploadId: string, partNumber: number, o: PresignOptions): Promise<string>;
}

export class BlobNotFoundError extends Error {
  constructor(key: string) {
    super(`no object ${key}`);
    this.name = "BlobNotFoundError";
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

export const MAX_PARTS = 10_000;
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 * 1024 * 1024;

/** `attachment; filename="…"; filename*=UTF-8''…` with nothing a header could be split by. */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, "_").slice(0, 150) || "download";
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
