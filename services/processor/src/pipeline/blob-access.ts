// The processor reads the objects the file service stored and writes thumbnails beside them,
// through the file service's BlobStore drivers with the same settings (BLOB_DRIVER, BLOB_DIR,
// S3_*). Until the BlobStore moves into the kit, this file is the one place that reaches into
// services/file for it.
import { BlobNotFoundError, type BlobStore, checkKey } from "../../../file/src/blob/blob-store.js";
import { createBlobStore } from "../../../file/src/blob/create-blob-store.js";
import type { ProcessorConfig } from "../config.js";

/** What the pipeline needs of the store. */
export type Blobs = Pick<BlobStore, "get" | "stat" | "put" | "delete">;

export const createBlobs = (config: ProcessorConfig): BlobStore => createBlobStore(config);

export const isBlobMissing = (err: unknown): boolean => err instanceof BlobNotFoundError;

/** Throws unless `key` has the shape of a server-generated object key. */
export const checkObjectKey = (key: string): string => checkKey(key);
