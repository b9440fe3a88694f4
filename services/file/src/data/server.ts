// The data endpoint (fs driver; any driver as a fallback), mounted at /v1/data/ on the file
// service's HTTP listener (http/server.ts, FILE_HTTP_PORT): plain HTTP next to the disk, with
// no gRPC, no JSON transcoding and no per-call token, session or permission check — the
// ticket in the path was minted by the control path (CreateDownloadTicket) after all of that.
//
//   GET|HEAD /v1/data/{ticket}   the ticket's byte window: Range (one range), ETag,
//                                If-None-Match → 304, attachment disposition, nosniff.
//
// Refusals: 404 for anything that is not a well-formed, untampered ticket of this service
// (TICKET_INVALID: never says which part was wrong), 410 for an expired one, 405 for a
// ticket used in the other direction.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { filev1, methodCatalog } from "@filemesh/contracts";
import type { Logger } from "@filemesh/kit";
import { AppError, type CallContext, type Reason, toServiceError } from "@filemesh/kit";
import { BlobNotFoundError, type BlobStore } from "@filemesh/kit/blob";
import { Metadata } from "@grpc/grpc-js";
import type { FileDeps } from "../domain/deps.js";
import { toFile } from "../domain/views.js";
import { cancelled, storeAndCommit } from "../handlers/raw-upload-handlers.js";
import type { HttpHandler } from "../http/server.js";
import { noneMatch, rangeSpan } from "./range.js";
import { type DownloadClaims, TicketError, type Tickets, type UploadClaims } from "./ticket.js";

export const DATA_PREFIX = "/v1/data/";

export interface DataDeps {
  blobs: BlobStore;
  tickets: Tickets;
  log: Logger;
  /** Uploads: the file service's own (quota, commit, peers). */
  files?: FileDeps;
}

const STATUS: Partial<Record<Reason, [number, number]>> = {
  // reason → [HTTP status, gRPC code]
  TICKET_MALFORMED: [404, 5],
  TICKET_INVALID: [404, 5],
  TICKET_EXPIRED: [410, 9],
  TICKET_WRONG_DIRECTION: [405, 12],
  CONTENT_MISSING: [404, 5],
  RANGE_NOT_SATISFIABLE: [416, 11],
  METHOD_NOT_ALLOWED: [405, 12],
};

const MESSAGES: Partial<Record<Reason, string>> = {
  TICKET_MALFORMED: "no such transfer ticket",
  TICKET_INVALID: "no such transfer ticket",
  TICKET_EXPIRED: "the transfer ticket has expired; ask for a new one",
  TICKET_WRONG_DIRECTION: "this transfer ticket does not allow this method",
  CONTENT_MISSING: "the stored content of this file is missing; upload it again",
  RANGE_NOT_SATISFIABLE: "the range is outside the content",
  METHOD_NOT_ALLOWED: "use GET or HEAD",
};

/** A google.rpc.Status JSON body, as every other REST error. */
export function fail(res: ServerResponse, reason: Reason, headers: Record<string, string> = {}): void {
  const [http, code] = STATUS[reason] ?? [500, 13];
  const body = JSON.stringify({
    code,
    message: MESSAGES[reason] ?? "internal error",
    details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "file.filemesh" }],
  });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(http, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
  });
  res.end(body);
}

/** The handler mounted at /v1/data/ on the file service's HTTP listener (http/server.ts). */
export function createDataHandler(deps: DataDeps): HttpHandler {
  return (req, res, rest) => {
    const ticket = rest;
    if (req.method === "GET" || req.method === "HEAD") {
      let claims: DownloadClaims;
      try {
        claims = deps.tickets.verify(ticket, "r") as DownloadClaims;
      } catch (err) {
        if (!(err instanceof TicketError)) throw err;
        return fail(res, err.reason);
      }
      return download(deps, req, res, claims);
    }
    if (req.method === "PUT" || req.method === "POST") {
      let claims: UploadClaims;
      try {
        claims = deps.tickets.verify(ticket, "w") as UploadClaims;
      } catch (err) {
        if (!(err instanceof TicketError)) throw err;
        return fail(res, err.reason);
      }
      if (deps.files) return upload(deps.files, deps.log, req, res, claims);
    }
    fail(res, "METHOD_NOT_ALLOWED", { allow: "GET, HEAD, PUT, POST" });
  };
}

async function download(deps: DataDeps, req: IncomingMessage, res: ServerResponse, c: DownloadClaims) {
  const headers: Record<string, string | number> = {
    "content-type": c.t,
    "content-disposition": c.c,
    "x-content-type-options": "nosniff",
    etag: c.h,
    "accept-ranges": "bytes",
    "cache-control": "private, no-cache",
    "referrer-policy": "no-referrer",
  };
  if (noneMatch(req.headers["if-none-match"], c.h)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const ifRange = req.headers["if-range"];
  const span = ifRange && ifRange !== c.h ? undefined : rangeSpan(req.headers.range, c.l);
  if (span === "unsatisfiable") {
    return fail(res, "RANGE_NOT_SATISFIABLE", { "content-range": `bytes */${c.l}` });
  }
  const start = span?.start ?? 0;
  const length = span ? span.end - span.start + 1 : c.l;
  headers["content-length"] = length;
  if (span) headers["content-range"] = `bytes ${span.start}-${span.end}/${c.l}`;
  if (req.method === "HEAD" || length === 0) {
    res.writeHead(span ? 206 : 200, headers);
    res.end();
    return;
  }
  let source: NodeJS.ReadableStream;
  try {
    source = await deps.blobs.get(c.k, { offset: c.o + start, length });
  } catch (err) {
    if (err instanceof BlobNotFoundError) return fail(res, "CONTENT_MISSING");
    throw err;
  }
  res.writeHead(span ? 206 : 200, headers);
  let sent = 0;
  source.on("data", (chunk: Buffer) => {
    sent += chunk.length;
    if (!res.write(chunk)) {
      source.pause();
      res.once("drain", () => source.resume());
    }
  });
  source.on("end", () => {
    // A short object (changed behind the service's back) must not pass for a complete body.
    if (sent !== length) res.destroy();
    else res.end();
  });
  source.on("error", () => res.destroy());
  res.on("close", () => {
    if (!res.writableFinished) (source as unknown as { destroy(): void }).destroy();
  });
}

/** The policy data-plane uploads run under: UploadFile's (the idempotency key names it). */
const UPLOAD_FILE = methodCatalog.find((m) => m.path === "/filemesh.file.v1.FileService/UploadFile")!;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The call context of a ticketed upload: the principal the ticket names (forwarded to the
 * permission service as this service's verified principal, whose session it checks again),
 * the request id and trace of the request, cancelled when the client goes away.
 */
function ticketContext(log: Logger, req: IncomingMessage, c: UploadClaims, signal: AbortSignal): CallContext {
  const metadata = new Metadata();
  const rid = req.headers["x-request-id"];
  const requestId = typeof rid === "string" && REQUEST_ID.test(rid) ? rid : randomUUID();
  metadata.set("x-request-id", requestId);
  const tp = req.headers.traceparent;
  if (typeof tp === "string" && tp.length < 128) metadata.set("traceparent", tp);
  return {
    method: UPLOAD_FILE,
    requestId,
    metadata,
    signal,
    peer: `${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? 0}`,
    log: log.child({ request_id: requestId }),
    principal: { subject: `user:${c.p}`, userId: c.p, sessionId: c.sid, admin: c.a, expiresAt: c.x },
    setHeader() {},
    sendHeader() {},
  } as CallContext;
}

/** An error as the gRPC path gives it: google.rpc.Status bytes, under the HTTP status the gateway maps. */
function failStatus(res: ServerResponse, err: unknown): void {
  const se = toServiceError(err, "file.filemesh");
  const bytes = se.metadata?.get("grpc-status-details-bin")[0] as Buffer | undefined;
  if (res.headersSent || !bytes) {
    res.destroy();
    return;
  }
  const code = se.code ?? 13;
  const http =
    err instanceof AppError && err.reason === "UPLOAD_TOO_LARGE"
      ? 413
      : ((
          {
            1: 499,
            3: 400,
            4: 504,
            5: 404,
            6: 409,
            7: 403,
            8: 429,
            9: 400,
            10: 409,
            11: 400,
            14: 503,
            16: 401,
          } as Record<number, number>
        )[code] ?? 500);
  res.writeHead(http, {
    "content-type": "application/x-protobuf; messageType=google.rpc.Status",
    "content-length": bytes.length,
    "x-filemesh-status": "1",
  });
  res.end(bytes);
}

async function upload(
  files: FileDeps,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  c: UploadClaims,
) {
  const abort = new AbortController();
  let ended = false;
  req.once("end", () => {
    ended = true;
  });
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  req.once("aborted", () => abort.abort());
  const ctx = ticketContext(log, req, c, abort.signal);
  try {
    const file = await storeAndCommit(
      files,
      ctx,
      { userId: c.p, parentId: c.f, name: c.n, sha256: c.h, requestId: c.r },
      req,
      async () => {
        await new Promise((r) => setImmediate(r));
        if (abort.signal.aborted || !ended) throw cancelled();
      },
    );
    const body = Buffer.from(filev1.UploadFileResponse.encode({ file: toFile(file) }).finish());
    res.writeHead(200, {
      "content-type": "application/x-protobuf; messageType=filemesh.file.v1.UploadFileResponse",
      "content-length": body.length,
    });
    res.end(body);
  } catch (err) {
    if (!(err instanceof AppError)) log.error({ err }, "data endpoint upload failed");
    failStatus(res, err);
  }
}
