// Picks the blob driver from the configuration, once, at start-up (the file service and the
// processor both build theirs here, from blobSpec's settings in common-config.ts).
import { resolve } from "node:path";
import type { BlobSettings } from "../common-config.js";
import type { BlobStore } from "./blob-store.js";
import { createFsStore } from "./fs-store.js";
import { createS3Store } from "./s3-store.js";

export function createBlobStore(config: BlobSettings & { partBytes?: number }): BlobStore {
  if (config.blobDriver === "fs") return createFsStore(resolve(config.blobDir));
  return createS3Store({
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    bucket: config.s3Bucket,
    accessKeyId: config.s3AccessKeyId,
    secretAccessKey: config.s3SecretAccessKey,
    forcePathStyle: config.s3ForcePathStyle ?? Boolean(config.s3Endpoint),
    ...(config.partBytes === undefined ? {} : { putPartBytes: config.partBytes }),
  });
}
