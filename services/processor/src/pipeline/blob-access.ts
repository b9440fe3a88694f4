// The processor reads the objects the file service stored and writes thumbnails beside them,
// through the kit's BlobStore drivers with the same settings as the file service (BLOB_DRIVER,
// BLOB_DIR, S3_*).
import { BlobNotFoundError, type BlobStore, checkKey, createBlobStore } from "@filemesh/kit/blob";
import type { ProcessorConfig } from "../config.js";

/** What the pipeline needs of the store. */
export type Blobs = Pick<BlobStore, "get" | "stat" | "put" | "delete">;

export const createBlobs = (config: ProcessorConfig): BlobStore => createBlobStore(config);

export const isBlobMissing = (err: unknown): boolean => err instanceof BlobNotFoundError;

/** Throws unless `key` has the shape of a server-generated object key. */
export const checkObjectKey = (key: string): string => checkKey(key);
