// Bytes of upload sessions through the service: UploadPart (one numbered part, REST raw body
// or gRPC stream) and WriteUpload (native resumable byte stream, ByteStream-style: resume at
// the committed size on any replica; finish_write commits).
import { Readable } from "node:stream";
import type { filev1 } from "@filemesh/contracts";
import { AppError, type CallContext, Code, failedPrecondition, invalidArgument } from "@filemesh/kit";
import { PartFiller, PartSizeMismatchError } from "@filemesh/kit/blob";
import { callerId } from "../domain/access.js";
import { completeSession } from "../domain/complete-upload.js";
import { meter, sizeMismatch } from "../domain/content.js";
import type { FileDeps } from "../domain/deps.js";
import { createRelaySlots } from "../domain/relay-slots.js";
import { expectedPartSize, mustBeActive, ownUpload, stillAllowed } from "../domain/upload-sessions.js";
import { toFile } from "../domain/views.js";
import { advance, METHOD, savePart, type UploadRow } from "../store/uploads.js";
import { stillConnected } from "./raw-upload-handlers.js";

/**
 * Largest part the service relays to S3 (each streams through, but holds a relay slot for its
 * whole transfer); bigger parts go straight to S3 with their presigned URLs. The fs driver
 * takes parts of any size.
 */
export const MAX_RELAYED_PART_BYTES = 64n * 1024n * 1024n;

const emptyRequest = () =>
  invalidArgument("EMPTY_REQUEST", "no request message", [{ field: "upload_id", description: "required" }]);

const partSizeMismatch = (n: number, expected: bigint, got: number | string) =>
  invalidArgument("PART_SIZE_MISMATCH", `part ${n} must have ${expected} bytes, got ${got}`, [
    { field: "body", description: `expected ${expected} bytes` },
  ]);

export function createPartHandlers(deps: FileDeps) {
  const { pool, blobs, settings } = deps;
  const slots = createRelaySlots({
    perUser: settings.relayPartsPerUser,
    perProcess: settings.relayPartsPerProcess,
  });
  /** A relaying handler run while holding one of the caller's relay slots (or refused). */
  const relayed =
    <Req, Res>(fn: (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>) =>
    async (requests: AsyncIterable<Req>, ctx: CallContext): Promise<Res> => {
      const free = slots.take(callerId(ctx));
      try {
        return await fn(requests, ctx);
      } finally {
        free();
      }
    };

  async function storePart(u: UploadRow, n: number, data: AsyncIterable<Uint8Array>, ctx: CallContext) {
    const expected = expectedPartSize(u, n);
    if (blobs.driver === "s3" && expected > MAX_RELAYED_PART_BYTES) {
      throw failedPrecondition(
        "PART_TOO_LARGE_TO_RELAY",
        `parts over ${MAX_RELAYED_PART_BYTES} bytes go straight to the store with their presigned URLs`,
      );
    }
    const m = meter({ limit: expected });
    // Streamed to the store with its exact length; a shorter body fails there.
    const stored = await blobs
      .putPart(u.object_key, u.multipart_id, n, m.pass(data), Number(expected))
      .catch((err: unknown) => {
        if (err instanceof PartSizeMismatchError) throw partSizeMismatch(n, expected, err.received);
        throw err;
      });
    await stillConnected(ctx);
    if (BigInt(stored.sizeBytes) !== expected) throw partSizeMismatch(n, expected, stored.sizeBytes);
    await savePart(pool, u.id, stored);
    return stored;
  }

  const handlers = {
    async uploadPart(
      requests: AsyncIterable<filev1.UploadPartRequest>,
      ctx: CallContext,
    ): Promise<filev1.UploadPartResponse> {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) throw emptyRequest();
      const head = first.value;
      const u = await ownUpload(deps, ctx, head.uploadId);
      mustBeActive(u);
      await stillAllowed(deps, ctx, u); // access again on every part (a revoked grant ends the session)
      if (u.method !== METHOD.PARTS)
        throw failedPrecondition("NOT_A_PARTS_UPLOAD", "this session takes a byte stream");
      const n = head.partNumber;
      if (!Number.isInteger(n) || n < 1 || n > u.part_count) {
        throw invalidArgument("INVALID_PART_NUMBER", `part numbers go from 1 to ${u.part_count}`, [
          { field: "part_number", description: "out of range" },
        ]);
      }
      async function* body() {
        if (head.body?.data.length) yield head.body.data;
        for (let next = await it.next(); !next.done; next = await it.next()) {
          if (next.value.body?.data.length) yield next.value.body.data;
        }
      }
      const p = await storePart(u, n, body(), ctx);
      return { part: { partNumber: p.partNumber, sizeBytes: String(p.sizeBytes), etag: p.etag } };
    },

    async writeUpload(
      requests: AsyncIterable<filev1.WriteUploadRequest>,
      ctx: CallContext,
    ): Promise<filev1.WriteUploadResponse> {
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) throw emptyRequest();
      const u = await ownUpload(deps, ctx, first.value.uploadId);
      mustBeActive(u);
      await stillAllowed(deps, ctx, u); // and on every (resumed) stream; the commit asks once more
      if (u.method !== METHOD.STREAM)
        throw failedPrecondition("NOT_A_STREAM_UPLOAD", "this session takes numbered parts");
      const size = BigInt(u.size_bytes);
      const partBytes = BigInt(u.part_bytes);
      let committed = BigInt(u.committed_bytes);
      if (BigInt(first.value.writeOffset || "0") !== committed) {
        throw new AppError(
          Code.FAILED_PRECONDITION,
          "WRONG_OFFSET",
          `write_offset must be the committed size, ${committed}`,
          { metadata: { committed_size_bytes: String(committed) } },
        );
      }
      // A stream that starts at 0 and finishes in one call is hashed on the way (no read-back).
      const whole = committed === 0n ? meter({ limit: size }) : undefined;
      const filler = new PartFiller(Number(partBytes));
      // One part uploads while the next one fills: `scheduled` bytes are handed to part
      // uploads, `committed` advances (in order) as each is stored.
      let scheduled = committed;
      let inflight: Promise<void> | undefined;
      const store = async (part: Buffer, length: number, from: bigint) => {
        const n = Number(from / partBytes) + 1;
        const stored = await blobs.putPart(u.object_key, u.multipart_id, n, Readable.from([part]), length);
        filler.release(part); // stored: the next part may fill it
        await savePart(pool, u.id, stored);
        const to = from + BigInt(length);
        if (!(await advance(pool, u.id, String(from), String(to)))) {
          throw failedPrecondition("CONCURRENT_WRITE", "another stream is writing this upload");
        }
        committed = to;
      };
      // Each message is copied once into a reused part buffer (kit PartFiller), and is garbage at once.
      const flush = async (part: Buffer, length: number) => {
        const from = scheduled;
        scheduled += BigInt(length);
        if (inflight) await inflight;
        inflight = store(part, length, from);
        inflight.catch(() => {}); // awaited (and thrown) by the next flush or at the end
      };
      let finish = false;
      for (let msg: IteratorResult<filev1.WriteUploadRequest> = first; !msg.done; msg = await it.next()) {
        const data = msg.value.data;
        if (data.length) {
          if (scheduled + BigInt(filler.pending) + BigInt(data.length) > size) {
            throw invalidArgument("SIZE_EXCEEDED", `the upload declared ${size} bytes`, [
              { field: "data", description: "more bytes than declared" },
            ]);
          }
          whole?.take(data);
          for (const part of filler.push(data)) await flush(part, Number(partBytes));
        }
        if (msg.value.finishWrite) {
          finish = true;
          break;
        }
      }
      if (inflight) await inflight;
      await stillConnected(ctx);
      if (!finish) return { committedSizeBytes: String(committed), file: undefined };
      // The last part (an empty one for an empty file).
      if (filler.pending > 0 || (size === 0n && committed === 0n)) {
        const length = filler.pending;
        await flush(filler.rest(), length);
      }
      if (inflight) await inflight;
      if (committed !== size) throw sizeMismatch(u.size_bytes, committed);
      const file = await completeSession(
        deps,
        ctx,
        { ...u, committed_bytes: String(committed) },
        whole?.result(),
      );
      return { committedSizeBytes: String(committed), file: toFile(file) };
    },
  };
  return { uploadPart: relayed(handlers.uploadPart), writeUpload: relayed(handlers.writeUpload) };
}
