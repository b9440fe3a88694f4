// Step 2: the stored object is exactly what was committed — its size and SHA-256 match the
// version's. A mismatch (corruption, a truncated or replaced object) rejects the upload. A
// missing object is retried, not rejected (see objectMissing).
import { createHash } from "node:crypto";
import { isBlobMissing } from "./blob-access.js";
import { objectMissing, reject, type Step } from "./step.js";

export const verifyStep: Step = {
  name: "verify",
  async run(job, _findings, { blobs }) {
    const stat = await blobs.stat(job.objectKey);
    if (!stat) throw objectMissing(job.objectKey);
    if (BigInt(stat.sizeBytes) !== job.sizeBytes) {
      return reject("SIZE_MISMATCH", `the stored content has ${stat.sizeBytes} bytes, not ${job.sizeBytes}`);
    }
    const hash = createHash("sha256");
    let size = 0n;
    try {
      for await (const chunk of await blobs.get(job.objectKey)) {
        const b = chunk as Uint8Array;
        size += BigInt(b.byteLength);
        hash.update(b);
      }
    } catch (err) {
      throw isBlobMissing(err) ? objectMissing(job.objectKey) : err;
    }
    if (size !== job.sizeBytes) {
      return reject("SIZE_MISMATCH", `the stored content has ${size} bytes, not ${job.sizeBytes}`);
    }
    if (hash.digest("hex") !== job.sha256) {
      return reject("CHECKSUM_MISMATCH", "the stored content does not match its SHA-256");
    }
    return undefined;
  },
};
