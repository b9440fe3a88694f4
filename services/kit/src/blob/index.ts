// `@filemesh/kit/blob`: where file bytes live, shared by the file service (which owns the
// objects) and the processor (which reads them and writes thumbnails beside them). A module of
// its own, not part of the kit's index, so services without blobs never load the S3 SDK.
export * from "./blob-store.js";
export { createBlobStore } from "./create-blob-store.js";
export { createFsStore } from "./fs-store.js";
export { createS3Store, type S3Settings } from "./s3-store.js";
