// tus 1.0.0 at /v1/tus/ on the file service's HTTP listener (ARCHITECTURE §10: the data plane).
// Written for the mesh rather than on @tus/server (docs/architecture.md "tus" says why): the
// state of an upload is a row of files.uploads (method 3) plus objects in the blob store, so
// any replica serves any request of any upload; the caller checks are the gRPC services' own
// (token, live session, rate limit: kit callerChecksOf); quota, the per-user session cap,
// expiry and the commit are the upload sessions' (reservation at creation, write access on the
// folder at creation, before every append and at the commit, commitContent).
//
// Bytes: the upload is a multipart upload of fixed parts (UPLOAD_PART_BYTES, at least the
// store's minimum). A PATCH of any size appends: the bytes after the last whole part (the tail)
// are kept as an object of their own (tail_key) until the next PATCH fills the part — how
// tusd's s3store keeps "incomplete parts" — so small chunks work on S3, whose parts must be
// ≥ 5 MiB except the last. The offset and tail move together in one conditional UPDATE; a
// concurrent PATCH that loses is 409 and its objects are dropped. When the offset reaches the
// length, the rest becomes the last part and the upload completes through completeSession →
// commitContent (size and SHA-256 read back, versions, tuples, events, processor).
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { methodCatalog } from "@filemesh/contracts";
import {
  AppError,
  type CallContext,
  Code,
  compose,
  inTransaction,
  type Logger,
  type Middleware,
  requestIdFrom,
} from "@filemesh/kit";
import { newObjectKey } from "@filemesh/kit/blob";
import { Metadata } from "@grpc/grpc-js";
import { callerId, targetFolder } from "../domain/access.js";
import { completeSession } from "../domain/complete-upload.js";
import { tooLarge } from "../domain/content.js";
import type { FileDeps } from "../domain/deps.js";
import { cleanName } from "../domain/names.js";
import { createRelaySlots } from "../domain/relay-slots.js";
import {
  abortSession,
  mustBeActive,
  ownUpload,
  planParts,
  releaseExpired,
  stillAllowed,
} from "../domain/upload-sessions.js";
import {
  getUpload,
  insertUpload,
  METHOD,
  openSessionsLocked,
  UPLOAD,
  type UploadRow,
} from "../store/uploads.js";
import { claim } from "../store/usage.js";
import {
  asTusError,
  checkResumable,
  OFFSET_CONTENT_TYPE,
  parseChecksum,
  parseMetadata,
  parseNonNegative,
  TUS_CHECKSUM_ALGORITHMS,
  TUS_EXTENSIONS,
  TUS_VERSION,
  TusError,
} from "./protocol.js";
import { advanceTus, setReserved, setTusColumns } from "./store.js";

export const TUS_PATH = "/v1/tus/";
/** Every tus error answer names its ErrorInfo reason here (HEAD answers have no body). */
export const ERROR_REASON_HEADER = "Filemesh-Error-Reason";

/** The gRPC code a client would see for a tus status (the `code` of the error body). */
function grpcCodeOf(status: number): Code {
  const byStatus: Record<number, Code> = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    405: Code.UNIMPLEMENTED,
    409: Code.ABORTED,
    410: Code.NOT_FOUND,
    411: Code.INVALID_ARGUMENT,
    412: Code.FAILED_PRECONDITION,
    413: Code.RESOURCE_EXHAUSTED,
    415: Code.INVALID_ARGUMENT,
    429: Code.RESOURCE_EXHAUSTED,
    460: Code.INVALID_ARGUMENT,
    503: Code.UNAVAILABLE,
  };
  return byStatus[status] ?? Code.INTERNAL;
}

/** The policy tus requests run under: WriteUpload's (authenticated, rate class "upload"). */
const WRITE_UPLOAD = methodCatalog.find((m) => m.path === "/filemesh.file.v1.FileService/WriteUpload");
const TUS_METHOD = { ...WRITE_UPLOAD!, method: "Tus", path: TUS_PATH, clientStreaming: true };

/** Only these request headers become the call's metadata (never x-filemesh-* identity headers). */
const FORWARDED_METADATA = ["authorization", "x-forwarded-for", "x-request-id", "traceparent", "tracestate"];

const HOST = /^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$/;

const one = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export interface TusOptions {
  deps: FileDeps;
  /** The service's caller checks (kit callerChecksOf): token, live session, rate limit. */
  checks: Middleware[];
  log: Logger;
}

export function createTusHandler(o: TusOptions) {
  const { deps } = o;
  const { pool, blobs, settings } = deps;
  const chain = compose(o.checks);
  const slots = createRelaySlots({
    perUser: settings.relayPartsPerUser,
    perProcess: settings.relayPartsPerProcess,
  });
  const partBytesFor = (size: bigint) => planParts(size, settings.partBytes, blobs.minPartBytes);

  /** The public URL of the endpoint, as the client reached it through the gateway or Envoy. */
  function baseUrl(req: IncomingMessage): string {
    // X-Forwarded-* only count behind a proxy that overwrites them (TRUST_FORWARDED_FOR: the
    // gateway and Envoy do); otherwise the Host the client connected with.
    const fwdHost = settings.trustForwardedFor
      ? one(req, "x-forwarded-host")?.split(",")[0]?.trim()
      : undefined;
    const fwdProto = settings.trustForwardedFor
      ? one(req, "x-forwarded-proto")?.split(",")[0]?.trim()
      : undefined;
    const host = [fwdHost, one(req, "host")].find((h) => h && HOST.test(h)) ?? "localhost";
    const proto = fwdProto === "https" ? "https" : "http";
    return `${proto}://${host}${TUS_PATH}`;
  }

  async function authenticate(req: IncomingMessage, signal: AbortSignal): Promise<CallContext> {
    const metadata = new Metadata();
    for (const name of FORWARDED_METADATA) {
      const v = one(req, name);
      if (v !== undefined) metadata.set(name, v);
    }
    const ctx: CallContext = {
      method: TUS_METHOD,
      requestId: requestIdFrom(metadata),
      metadata,
      signal,
      peer: `${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? 0}`,
      log: o.log,
      setHeader() {},
      sendHeader() {},
    };
    await chain(ctx, async () => {});
    callerId(ctx);
    return ctx;
  }

  function expiresHeader(u: UploadRow): Record<string, string> {
    return u.state === UPLOAD.ACTIVE || u.state === UPLOAD.COMPLETING
      ? { "Upload-Expires": u.expire_time.toUTCString() }
      : {};
  }

  /** The caller's upload by id (others' and unknown ones: 404; expired: 410; terminated: 404). */
  async function uploadOf(ctx: CallContext, id: string): Promise<UploadRow> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      throw new TusError(404, "UPLOAD_NOT_FOUND", "no such upload");
    }
    const u = await ownUpload(deps, ctx, id);
    if (u.method !== METHOD.TUS) throw new TusError(404, "UPLOAD_NOT_FOUND", "no such upload");
    if (u.state === UPLOAD.EXPIRED) throw new TusError(410, "UPLOAD_EXPIRED", "the upload has expired");
    if (u.state === UPLOAD.ABORTED) throw new TusError(404, "UPLOAD_NOT_FOUND", "no such upload");
    return u;
  }

  async function readTail(u: UploadRow, bytes: number): Promise<Buffer[]> {
    if (bytes === 0) return [];
    if (!u.tail_key)
      throw new AppError(Code.INTERNAL, "TAIL_MISSING", "the upload's stored bytes are missing");
    const chunks: Buffer[] = [];
    for await (const c of await blobs.get(u.tail_key)) chunks.push(c as Buffer);
    const got = chunks.reduce((n, c) => n + c.length, 0);
    if (got !== bytes)
      throw new AppError(Code.INTERNAL, "TAIL_MISMATCH", "the upload's stored bytes are inconsistent");
    return chunks;
  }

  /**
   * Appends `body` at `offset` (the committed offset). Returns the new offset, or undefined
   * when the client went away and nothing could be kept (a chunk with a checksum is all or
   * nothing). Throws 413 past the length, 460 on a wrong checksum (nothing kept either way).
   */
  async function append(
    u: UploadRow,
    offset: bigint,
    body: AsyncIterable<Uint8Array>,
    checksum: Buffer | undefined,
  ): Promise<bigint | undefined> {
    const P = BigInt(u.part_bytes);
    const length = u.tus_length == null ? undefined : BigInt(u.tus_length);
    const limit = (length ?? BigInt(u.size_bytes)) - offset;
    const tailBytes = Number(offset % P);
    let pending = await readTail(u, tailBytes);
    let pendingBytes = tailBytes;
    let partNo = Number(offset / P) + 1;
    const hash = checksum ? createHash("sha256") : undefined;
    let received = 0n;
    let aborted = false;
    const put = async (n: number, data: Buffer) => {
      await blobs.putPart(u.object_key, u.multipart_id, n, Readable.from([data]), data.length);
    };
    const it = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await it.next();
      } catch {
        aborted = true; // the client (or the proxy) closed the request mid-way
        break;
      }
      if (next.done) break;
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      received += BigInt(chunk.length);
      if (received > limit) {
        throw new TusError(413, "UPLOAD_LENGTH_EXCEEDED", `the upload takes ${limit} more bytes`);
      }
      hash?.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (BigInt(pendingBytes) >= P) {
        const all = Buffer.concat(pending, pendingBytes);
        await put(partNo++, all.subarray(0, Number(P)));
        const rest = all.subarray(Number(P));
        pending = rest.length ? [rest] : [];
        pendingBytes = rest.length;
      }
    }
    if (checksum && (aborted || !hash!.digest().equals(checksum))) {
      if (aborted) return undefined;
      throw new AppError(
        Code.INVALID_ARGUMENT,
        "CHECKSUM_MISMATCH",
        "the chunk does not match Upload-Checksum",
      );
    }
    if (received === 0n) {
      // An empty upload still has its one (empty) part.
      if (length === 0n && !aborted) await put(1, Buffer.alloc(0));
      return aborted ? undefined : offset;
    }
    const to = offset + received;
    let tail: string | null = null;
    if (length !== undefined && to === length) {
      if (pendingBytes > 0) await put(partNo, Buffer.concat(pending, pendingBytes));
    } else if (pendingBytes > 0) {
      tail = newObjectKey();
      await blobs.put(tail, Readable.from([Buffer.concat(pending, pendingBytes)]));
    }
    if (!(await advanceTus(pool, u, offset, to, tail))) {
      if (tail) await blobs.delete(tail).catch(() => {});
      throw new TusError(409, "CONCURRENT_WRITE", "another request moved the offset of this upload");
    }
    if (u.tail_key) await blobs.delete(u.tail_key).catch(() => {});
    return to;
  }

  /** Completes the upload when every byte is there (idempotent; a retry after a failed commit too). */
  async function completeIfDone(ctx: CallContext, id: string): Promise<void> {
    const u = await getUpload(pool, id);
    if (!u || u.state !== UPLOAD.ACTIVE || u.tus_length == null) return;
    if (BigInt(u.committed_bytes) !== BigInt(u.tus_length)) return;
    await completeSession(deps, ctx, u);
  }

  /** A deferred upload reserves its next chunk before taking it (Content-Length required). */
  async function reserveDeferred(u: UploadRow, offset: bigint, contentLength: bigint | undefined) {
    if (contentLength === undefined) {
      throw new TusError(
        411,
        "LENGTH_REQUIRED",
        "a PATCH of an upload without Upload-Length needs Content-Length",
      );
    }
    const need = offset + contentLength;
    if (need > BigInt(settings.maxUploadBytes)) throw tooLarge(settings.maxUploadBytes);
    if (need <= BigInt(u.size_bytes)) return u;
    const ok = await inTransaction(pool, (tx) =>
      setReserved(tx, u.id, need, { defaultQuota: settings.defaultQuotaBytes }),
    );
    if (!ok) mustBeActive({ ...u, state: UPLOAD.EXPIRED });
    return { ...u, size_bytes: String(need) };
  }

  async function declareLength(u: UploadRow, length: bigint): Promise<UploadRow> {
    if (u.tus_length != null) {
      if (BigInt(u.tus_length) === length) return u;
      throw new TusError(400, "LENGTH_ALREADY_SET", "Upload-Length is already set");
    }
    if (length < BigInt(u.committed_bytes))
      throw new TusError(400, "INVALID_UPLOAD_LENGTH", "Upload-Length is below the offset");
    if (length > BigInt(settings.maxUploadBytes)) throw tooLarge(settings.maxUploadBytes);
    const P = BigInt(u.part_bytes);
    const partCount = length === 0n ? 1 : Number((length + P - 1n) / P);
    const ok = await inTransaction(pool, (tx) =>
      setReserved(tx, u.id, length, { defaultQuota: settings.defaultQuotaBytes, declare: { partCount } }),
    );
    if (!ok) mustBeActive({ ...u, state: UPLOAD.EXPIRED });
    return { ...u, size_bytes: String(length), tus_length: String(length), part_count: partCount };
  }

  /** PATCH body handling shared with creation-with-upload; returns the new offset (undefined: client gone). */
  async function patchBody(
    ctx: CallContext,
    req: IncomingMessage,
    u: UploadRow,
    offset: bigint,
  ): Promise<bigint | undefined> {
    const checksum = parseChecksum(one(req, "upload-checksum"));
    const contentLength = parseNonNegative("Content-Length", one(req, "content-length"));
    if (u.tus_length == null) u = await reserveDeferred(u, offset, contentLength);
    const limit = (u.tus_length == null ? BigInt(u.size_bytes) : BigInt(u.tus_length)) - offset;
    if (contentLength !== undefined && contentLength > limit) {
      throw new TusError(413, "UPLOAD_LENGTH_EXCEEDED", `the upload takes ${limit} more bytes`);
    }
    const free = slots.take(callerId(ctx));
    try {
      const to = await append(u, offset, req, checksum);
      if (to !== undefined) await completeIfDone(ctx, u.id);
      return to;
    } finally {
      free();
    }
  }

  async function create(ctx: CallContext, req: IncomingMessage, res: ServerResponse) {
    const userId = callerId(ctx);
    if (one(req, "upload-concat") !== undefined) {
      throw new TusError(400, "CONCATENATION_UNSUPPORTED", "the concatenation extension is not offered");
    }
    const rawMetadata = one(req, "upload-metadata") ?? "";
    const md = parseMetadata(rawMetadata);
    const length = parseNonNegative("Upload-Length", one(req, "upload-length"));
    const defer = one(req, "upload-defer-length");
    if (length === undefined && defer?.trim() !== "1") {
      throw new TusError(
        400,
        "INVALID_UPLOAD_LENGTH",
        "Upload-Length (or Upload-Defer-Length: 1) is required",
      );
    }
    if (length !== undefined && defer !== undefined) {
      throw new TusError(400, "INVALID_UPLOAD_LENGTH", "give Upload-Length or Upload-Defer-Length, not both");
    }
    if (length !== undefined && length > BigInt(settings.maxUploadBytes))
      throw tooLarge(settings.maxUploadBytes);
    const withBody = one(req, "content-type") !== undefined;
    if (withBody && one(req, "content-type") !== OFFSET_CONTENT_TYPE) {
      throw new TusError(
        415,
        "UNSUPPORTED_CONTENT_TYPE",
        `a creation with upload sends ${OFFSET_CONTENT_TYPE}`,
      );
    }
    const name = cleanName(md.get("filename") ?? "", "filename");
    const parent = await targetFolder(deps, ctx, md.get("parentId") ?? "");
    await releaseExpired(deps, userId);
    const plan = partBytesFor(length ?? BigInt(settings.maxUploadBytes));
    const key = newObjectKey();
    const multipartId = await blobs.createMultipart(key);
    const id = randomUUID();
    try {
      await inTransaction(pool, async (tx) => {
        const max = settings.uploadSessionsPerUser;
        if ((await openSessionsLocked(tx, userId, max)) >= max) {
          throw new AppError(
            Code.RESOURCE_EXHAUSTED,
            "TOO_MANY_UPLOADS",
            `at most ${max} uploads may be open at once`,
          );
        }
        await claim(tx, userId, { reserve: length ?? 0n, defaultQuota: settings.defaultQuotaBytes });
        await insertUpload(tx, {
          id,
          owner_id: userId,
          parent_id: parent.id,
          name,
          size_bytes: String(length ?? 0n),
          sha256: "",
          method: METHOD.TUS,
          part_bytes: String(plan.partBytes),
          part_count: length === undefined ? 0 : partBytesFor(length).partCount,
          object_key: key,
          multipart_id: multipartId,
          expire_time: new Date(Date.now() + settings.uploadExpiryMs),
        });
        await setTusColumns(tx, id, { length, metadata: rawMetadata });
      });
    } catch (err) {
      await blobs.abortMultipart(key, multipartId).catch(() => {});
      throw err;
    }
    let u = (await getUpload(pool, id))!;
    const headers: Record<string, string> = { Location: `${baseUrl(req)}${id}`, ...expiresHeader(u) };
    if (withBody || length === 0n) {
      const to = await patchBody(ctx, req, u, 0n);
      if (to === undefined) return; // the client went away; the upload stays, at what was kept
      u = (await getUpload(pool, id))!;
      headers["Upload-Offset"] = String(to);
    }
    send(res, 201, { ...headers, ...expiresHeader(u) });
  }

  async function head(ctx: CallContext, res: ServerResponse, id: string) {
    let u = await uploadOf(ctx, id);
    // Every byte is in but the commit has not happened (the last PATCH failed after its bytes
    // were stored, or its answer was lost): a tus client stops at offset = length and never
    // sends another PATCH, so HEAD completes the upload first — an offset equal to the length
    // always means a committed file. While another request completes it: 503, ask again.
    if (u.tus_length != null && BigInt(u.committed_bytes) === BigInt(u.tus_length)) {
      if (u.state === UPLOAD.COMPLETING) {
        throw new TusError(503, "UPLOAD_COMPLETING", "the upload is being completed; ask again shortly", {
          "Retry-After": "1",
        });
      }
      if (u.state === UPLOAD.ACTIVE) {
        await completeIfDone(ctx, u.id);
        u = await uploadOf(ctx, id);
      }
    }
    const headers: Record<string, string> = {
      "Upload-Offset": u.committed_bytes,
      "Cache-Control": "no-store",
      ...expiresHeader(u),
    };
    if (u.tus_length == null) headers["Upload-Defer-Length"] = "1";
    else headers["Upload-Length"] = u.tus_length;
    if (u.tus_metadata) headers["Upload-Metadata"] = u.tus_metadata;
    send(res, 200, headers);
  }

  async function patch(ctx: CallContext, req: IncomingMessage, res: ServerResponse, id: string) {
    if (one(req, "content-type") !== OFFSET_CONTENT_TYPE) {
      throw new TusError(415, "UNSUPPORTED_CONTENT_TYPE", `PATCH sends ${OFFSET_CONTENT_TYPE}`);
    }
    const offset = parseNonNegative("Upload-Offset", one(req, "upload-offset"));
    if (offset === undefined) throw new TusError(400, "INVALID_UPLOAD_OFFSET", "Upload-Offset is required");
    const declared = parseNonNegative("Upload-Length", one(req, "upload-length"));
    let u = await uploadOf(ctx, id);
    if (u.state === UPLOAD.COMPLETED && u.tus_length != null && offset === BigInt(u.tus_length)) {
      return send(res, 204, { "Upload-Offset": u.tus_length });
    }
    mustBeActive(u);
    if (offset !== BigInt(u.committed_bytes)) {
      throw new TusError(409, "OFFSET_MISMATCH", `Upload-Offset must be ${u.committed_bytes}`);
    }
    await stillAllowed(deps, ctx, u); // write on the folder again before every append
    if (declared !== undefined) u = await declareLength(u, declared);
    const to = await patchBody(ctx, req, u, offset);
    if (to === undefined) return;
    const now = (await getUpload(pool, id)) ?? u;
    send(res, 204, { "Upload-Offset": String(to), ...expiresHeader(now) });
  }

  async function terminate(ctx: CallContext, res: ServerResponse, id: string) {
    const u = await uploadOf(ctx, id);
    mustBeActive(u);
    if (!(await abortSession(deps, u))) mustBeActive({ ...u, state: UPLOAD.COMPLETING });
    if (u.tail_key) await blobs.delete(u.tail_key).catch(() => {});
    send(res, 204, {});
  }

  function send(res: ServerResponse, status: number, headers: Record<string, string>, body = "") {
    if (res.headersSent) return;
    res.writeHead(status, {
      "Tus-Resumable": TUS_VERSION,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      ...(body
        ? { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) }
        : {}),
      ...headers,
    });
    res.end(body);
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: TusError) {
    // The body is a google.rpc.Status with an ErrorInfo, like every other REST error.
    const body =
      req.method === "HEAD"
        ? ""
        : JSON.stringify({
            code: grpcCodeOf(err.status),
            message: err.message,
            details: [
              {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                reason: err.reason,
                domain: "file.filemesh",
              },
            ],
          });
    // A refused request's body is not read: close the connection rather than drain it.
    if (!req.complete) res.setHeader("Connection", "close");
    // The reason in a header too: a HEAD answer has no body (a client tells a session ended by a
    // Redis flush, SESSION_ENDED, from a bad token by it).
    send(res, err.status, { ...err.headers, [ERROR_REASON_HEADER]: err.reason }, body);
  }

  return async function handleTus(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const override = one(req, "x-http-method-override")?.toUpperCase();
    const method = req.method === "POST" && override ? override : (req.method ?? "");
    try {
      if (method === "OPTIONS") {
        return send(res, 204, {
          "Tus-Version": TUS_VERSION,
          "Tus-Extension": TUS_EXTENSIONS,
          "Tus-Max-Size": String(settings.maxUploadBytes),
          "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS,
        });
      }
      checkResumable(one(req, "tus-resumable"));
      let id = "";
      try {
        id = decodeURIComponent(rest);
      } catch {
        throw new TusError(404, "UPLOAD_NOT_FOUND", "no such upload");
      }
      const allowed = id === "" ? ["POST"] : ["HEAD", "PATCH", "DELETE"];
      if (!allowed.includes(method) || id.includes("/")) {
        if (id.includes("/")) throw new TusError(404, "UPLOAD_NOT_FOUND", "no such upload");
        throw new TusError(405, "METHOD_NOT_ALLOWED", `use ${allowed.join(", ")}`, {
          Allow: `OPTIONS, ${allowed.join(", ")}`,
        });
      }
      const ctx = await authenticate(req, abort.signal);
      if (method === "POST") return await create(ctx, req, res);
      if (method === "HEAD") return await head(ctx, res, id);
      if (method === "PATCH") return await patch(ctx, req, res, id);
      return await terminate(ctx, res, id);
    } catch (err) {
      const t = asTusError(err);
      if (!t) {
        o.log.error({ err }, "tus request failed");
        return fail(req, res, new TusError(500, "INTERNAL", "internal error"));
      }
      return fail(req, res, t);
    }
  };
}
