// Step 1: the content type, decided from the bytes (magic numbers via file-type), never from
// the name or the client's claim. Unknown binary is application/octet-stream; valid UTF-8
// without control characters is text/plain.
import { fileTypeFromBuffer } from "file-type";
import { isBlobMissing } from "./blob-access.js";
import { objectMissing, readHead, type Step } from "./step.js";

/** file-type's recommended sample size. */
const SAMPLE_BYTES = 4100;
export const OCTET_STREAM = "application/octet-stream";
export const PLAIN_TEXT = "text/plain; charset=utf-8";

/** True for UTF-8 text without NUL or C0 controls other than tab, newlines, form feed, escape. */
export function looksLikeText(head: Buffer): boolean {
  for (const b of head) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) return false;
  }
  // A multi-byte sequence cut by the sample's end is not an error: drop up to 3 trailing bytes.
  for (let cut = 0; cut <= Math.min(3, head.length); cut++) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(0, head.length - cut));
      return true;
    } catch {
      // try a shorter prefix
    }
  }
  return false;
}

export async function sniffContentType(head: Buffer): Promise<string> {
  if (head.length === 0) return OCTET_STREAM;
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime;
  return looksLikeText(head) ? PLAIN_TEXT : OCTET_STREAM;
}

export const sniffStep: Step = {
  name: "sniff",
  async run(job, _findings, { blobs }) {
    if (job.sizeBytes === 0n) return { findings: { contentType: OCTET_STREAM } };
    const head = await readHead(blobs, job.objectKey, SAMPLE_BYTES).catch((err: unknown) => {
      throw isBlobMissing(err) ? objectMissing(job.objectKey) : err;
    });
    return { findings: { contentType: await sniffContentType(head) } };
  },
};
