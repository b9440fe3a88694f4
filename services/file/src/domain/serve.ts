// Serving content: which version a download gets (the current one or one by id; READY only),
// the byte range asked for, the headers of a raw download and the bytes re-cut into messages.
// Shared by the download, link and version handlers.
import {
  AppError,
  type CallContext,
  type ChunkPool,
  Code,
  failedPrecondition,
  invalidArgument,
  notFound,
  roomyPrefix,
} from "@filemesh/kit";
import { attachmentDisposition, BlobNotFoundError } from "@filemesh/kit/blob";
import { type FileRow, isUuid, KIND, STATE } from "../store/files.js";
import { getVersion, type VersionRow } from "../store/versions.js";
import { authorizeRow, callerId } from "./access.js";
import type { FileDeps } from "./deps.js";

export const contentMissing = () =>
  notFound("CONTENT_MISSING", "the stored content of this file is missing; upload it again");

export interface Range {
  offset: number;
  length: number;
}

/** The version to serve: the current one, or `versionId` of this file; READY only. */
export async function servable(deps: FileDeps, file: FileRow, versionId: string): Promise<VersionRow> {
  if (file.kind !== KIND.FILE) throw failedPrecondition("NOT_A_FILE", "folders have no content");
  const id = versionId || file.current_version_id || "";
  return readyVersion(file, isUuid(id) ? await getVersion(deps.pool, file.id, id) : undefined);
}

/**
 * A download's file and version, read in one query, with the caller's `read` checked before
 * anything about the version is told (same answers, in the same order, as `authorize` then
 * `servable`).
 */
export async function authorizeContent(
  deps: FileDeps,
  ctx: CallContext,
  fileId: string,
  versionId: string,
): Promise<{ file: FileRow; v: VersionRow }> {
  callerId(ctx);
  const got = await deps.reads.fileAndVersion(ctx, fileId, versionId);
  const file = await authorizeRow(deps, ctx, got?.file, "read");
  if (file.kind !== KIND.FILE) throw failedPrecondition("NOT_A_FILE", "folders have no content");
  return { file, v: readyVersion(file, got?.version) };
}

function readyVersion(file: FileRow, v: VersionRow | undefined): VersionRow {
  if (!v || v.missing_time) throw notFound("VERSION_NOT_FOUND", "no such version of this file");
  const state = v.id === file.current_version_id ? file.state : v.state;
  if (state !== STATE.READY) {
    throw failedPrecondition(
      state === STATE.REJECTED ? "FILE_REJECTED" : "FILE_NOT_READY",
      state === STATE.REJECTED ? "the file was rejected" : "the file is still being processed",
    );
  }
  return v;
}

/** offset/length checked against the size: offset past the end is OUT_OF_RANGE; 0 length = to the end. */
export function rangeOf(offset: string, length: string, size: string): Range {
  const o = Number(offset || "0");
  const l = Number(length || "0");
  const total = Number(size);
  if (!Number.isSafeInteger(o) || o < 0 || !Number.isSafeInteger(l) || l < 0) {
    throw invalidArgument("INVALID_RANGE", "offset and length must be non-negative", [
      { field: o < 0 ? "offset" : "length", description: "negative" },
    ]);
  }
  if (o > total)
    throw new AppError(Code.OUT_OF_RANGE, "OFFSET_OUT_OF_RANGE", `offset is past the end (${total} bytes)`);
  return { offset: o, length: l === 0 ? total - o : Math.min(l, total - o) };
}

/**
 * The response headers of a raw download (`GetFileContent`, `GetSharedLinkContent`), which the
 * gateways turn into HTTP headers: an attachment under the file's (sanitised) name, never
 * sniffed, and the length of the range. The length goes as `x-content-length`: a gRPC
 * response's own `content-length` would describe the framed messages, not the content.
 */
export function sendDownloadHeaders(ctx: CallContext, fileName: string, range: Range): void {
  ctx.setHeader("content-disposition", attachmentDisposition(fileName));
  ctx.setHeader("x-content-type-options", "nosniff");
  ctx.setHeader("x-content-length", String(range.length));
}

/**
 * The bytes of `v` in `range`, re-cut into messages of at most `pool.size` bytes. Each message
 * is assembled once, into a chunk of `pool` (kit `roomyBytes`), which the stream's serializer
 * frames without another copy; a message made with `pool.message` gives its chunk back once
 * written.
 */
export async function* contentChunks(
  deps: FileDeps,
  v: VersionRow,
  range: Range,
  pool: ChunkPool,
): AsyncGenerator<Buffer> {
  if (range.length === 0) return;
  const chunk = pool.size;
  const source = await deps.blobs.get(v.object_key, range).catch((err: unknown) => {
    // Gone behind the service's back (the janitor marks such rows on its next pass).
    if (err instanceof BlobNotFoundError) throw contentMissing();
    throw err;
  });
  // Taken when bytes come for it, sized by what is still to come: the last message is not a
  // mostly empty chunk, and none is taken after it.
  let left = range.length;
  let out: Buffer | undefined;
  let at = 0;
  try {
    for await (const raw of source) {
      const b = raw as Uint8Array;
      for (let p = 0; p < b.length; ) {
        out ??= pool.take(left > 0 ? Math.min(chunk, left) : chunk);
        const n = Math.min(b.length - p, out.length - at);
        out.set(p === 0 && n === b.length ? b : b.subarray(p, p + n), at);
        at += n;
        p += n;
        if (at === out.length) {
          yield out;
          left -= at;
          out = undefined;
          at = 0;
        }
      }
    }
    if (out && at > 0) yield roomyPrefix(out, at);
  } finally {
    source.destroy();
  }
}
