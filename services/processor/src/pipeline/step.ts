// What a post-upload step is: a small function that looks at the stored version and either
// adds findings (content type, thumbnail) or rejects the upload with a reason its owner sees.
import type { Logger } from "@filemesh/kit";
import type { Blobs } from "./blob-access.js";

/** The version being processed, from the file_uploaded event. */
export interface UploadJob {
  fileId: string;
  versionId: string;
  objectKey: string;
  sizeBytes: bigint;
  /** Lower-case hex. */
  sha256: string;
  name: string;
}

export interface Findings {
  contentType: string;
  hasThumbnail: boolean;
}

/** A stable code (`CHECKSUM_MISMATCH`) and a sentence for the owner. */
export interface Rejection {
  code: string;
  message: string;
}

export interface StepDeps {
  blobs: Blobs;
  log: Logger;
  thumbnail: { size: number; maxBytes: number };
}

/** Nothing (no opinion), findings to merge, or a rejection that ends the pipeline. */
export type StepOutcome = undefined | { findings: Partial<Findings> } | { reject: Rejection };

export interface Step {
  readonly name: string;
  run(job: UploadJob, findings: Readonly<Findings>, deps: StepDeps): Promise<StepOutcome>;
}

export const reject = (code: string, message: string): StepOutcome => ({ reject: { code, message } });

/**
 * The committed object is not in the store. The file service stores the bytes before it
 * commits, so this is an outage or a misconfigured store (wrong bucket or directory) rather
 * than a property of the upload: retried, then dead-lettered (PROCESSING_FAILED, redrivable
 * once fixed) instead of rejecting every upload for good.
 */
export const objectMissing = (key: string) => new Error(`object ${key} is not in the blob store`);

/** The first `max` bytes of an object (fewer if it is shorter). */
export async function readHead(blobs: Blobs, key: string, max: number): Promise<Buffer> {
  const stream = await blobs.get(key, { offset: 0, length: max });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.from(chunk as Uint8Array);
      chunks.push(b);
      size += b.length;
      if (size >= max) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, max);
}
