// The processor reads the objects the file service stored and writes thumbnails beside them,
// through the file service's BlobStore drivers with the same settings (BLOB_DRIVER, BLOB_DIR,
// S3_*). Until the BlobStore moves into the kit, this file is the one place that reaches into
// services/file for it.
import { resolve } from "node:path";
import { BlobNotFoundError, type BlobStore, checkKey } from "../../../file/src/blob/blob-store.js";
import { createFsStore } from "../../../file/src/blob/fs-store.js";
import { createS3Store } from "../../../file/src/blob/s3-store.js";
import type { ProcessorConfig } from "../config.js";

/** What the pipeline needs of the store. */
export type Blobs = Pick<BlobStore, "get" | "stat" | "put" | "delete">;

export function createBlobs(config: ProcessorConfig): BlobStore {
  if (config.blobDriver === "fs") return createFsStore(resolve(config.blobDir));
  return createS3Store({
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    bucket: config.s3Bucket,
    accessKeyId: config.s3AccessKeyId,
    secretAccessKey: config.s3SecretAccessKey,
    forcePathStyle: config.s3ForcePathStyle,
  });
}

export const isBlobMissing = (err: unknown): boolean => err instanceof BlobNotFoundError;

/** Throws unless `key` has the shape of a server-generated object key. */
export const checkObjectKey = (key: string): string => checkKey(key);
