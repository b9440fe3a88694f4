// Reading content on its way in: size limits, SHA-256, and the content type decided from the
// first bytes (magic numbers), never from the client's claim.
import { createHash } from "node:crypto";
import { AppError, Code, invalidArgument } from "@filemesh/kit";

const SIGNATURES: [string, number[], number?][] = [
  ["image/png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["image/jpeg", [0xff, 0xd8, 0xff]],
  ["image/gif", [0x47, 0x49, 0x46, 0x38]],
  ["image/webp", [0x57, 0x45, 0x42, 0x50], 8],
  ["application/pdf", [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ["application/zip", [0x50, 0x4b, 0x03, 0x04]],
  ["application/gzip", [0x1f, 0x8b]],
  ["video/mp4", [0x66, 0x74, 0x79, 0x70], 4],
];

/** The content type of `head` (up to the first 512 bytes). */
export function sniff(head: Buffer): string {
  for (const [type, sig, at = 0] of SIGNATURES) {
    if (head.length >= at + sig.length && sig.every((b, i) => head[at + i] === b)) return type;
  }
  if (head.length === 0) return "application/octet-stream";
  // Text: valid UTF-8 (a cut multi-byte tail is fine) without NUL or most C0 controls.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting binary content
  if (/[\u0000-\u0008\u000e-\u001a\u001c-\u001f]/.test(head.toString("latin1")))
    return "application/octet-stream";
  const text = new TextDecoder("utf-8", { fatal: false }).decode(head);
  const bad = (text.match(/\ufffd/g) ?? []).length;
  return bad <= 1 ? "text/plain; charset=utf-8" : "application/octet-stream";
}

export const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** An optional declared SHA-256 (hex, any case) in lower case, or INVALID_ARGUMENT. */
export function declaredSha256(value: string, field = "sha256"): string {
  const v = value.trim().toLowerCase();
  if (v && !HEX_SHA256.test(v)) {
    throw invalidArgument("INVALID_SHA256", "sha256 must be 64 hex digits", [
      { field, description: "not hex SHA-256" },
    ]);
  }
  return v;
}

export const tooLarge = (limit: number | bigint) =>
  new AppError(Code.RESOURCE_EXHAUSTED, "UPLOAD_TOO_LARGE", `the content is larger than ${limit} bytes`);

export const checksumMismatch = () =>
  invalidArgument("CHECKSUM_MISMATCH", "the content does not match the declared SHA-256", [
    { field: "sha256", description: "does not match the content" },
  ]);

export const sizeMismatch = (declared: string, actual: bigint) =>
  invalidArgument("SIZE_MISMATCH", `declared ${declared} bytes but received ${actual}`, [
    { field: "size_bytes", description: "does not match the content" },
  ]);

/** Counts, hashes and sniffs what passes through; `onBytes` runs before each chunk is let on. */
export function meter(o: { limit: bigint; onBytes?: (total: bigint) => Promise<void> }) {
  const hash = createHash("sha256");
  let size = 0n;
  let head = Buffer.alloc(0);
  /** Counts, checks the limit, hashes and keeps the head of one chunk. */
  const take = (chunk: Buffer) => {
    size += BigInt(chunk.length);
    if (size > o.limit) throw tooLarge(o.limit);
    hash.update(chunk);
    if (head.length < 512) head = Buffer.concat([head, chunk.subarray(0, 512 - head.length)]);
  };
  return {
    take,
    async *pass(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
      for await (const raw of source) {
        if (raw.byteLength === 0) continue;
        const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        if (size + BigInt(chunk.length) > o.limit) throw tooLarge(o.limit);
        await o.onBytes?.(size + BigInt(chunk.length));
        take(chunk);
        yield chunk;
      }
    },
    result: () => ({ sizeBytes: size, sha256: hash.copy().digest("hex"), contentType: sniff(head) }),
  };
}
