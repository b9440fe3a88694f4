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
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "@filemesh/kit";
import { BlobNotFoundError, type BlobStore } from "@filemesh/kit/blob";
import type { HttpHandler } from "../http/server.js";
import { noneMatch, rangeSpan } from "./range.js";
import { type DownloadClaims, TicketError, type Tickets } from "./ticket.js";

export const DATA_PREFIX = "/v1/data/";

export interface DataDeps {
  blobs: BlobStore;
  tickets: Tickets;
  log: Logger;
}

const STATUS: Record<string, [number, number]> = {
  // reason → [HTTP status, gRPC code]
  TICKET_MALFORMED: [404, 5],
  TICKET_INVALID: [404, 5],
  TICKET_EXPIRED: [410, 9],
  TICKET_WRONG_DIRECTION: [405, 12],
  CONTENT_MISSING: [404, 5],
  RANGE_NOT_SATISFIABLE: [416, 11],
  ROUTE_NOT_FOUND: [404, 5],
  METHOD_NOT_ALLOWED: [405, 12],
};

const MESSAGES: Record<string, string> = {
  TICKET_MALFORMED: "no such transfer ticket",
  TICKET_INVALID: "no such transfer ticket",
  TICKET_EXPIRED: "the transfer ticket has expired; ask for a new one",
  TICKET_WRONG_DIRECTION: "this transfer ticket does not allow this method",
  CONTENT_MISSING: "the stored content of this file is missing; upload it again",
  RANGE_NOT_SATISFIABLE: "the range is outside the content",
  ROUTE_NOT_FOUND: "no such data route",
  METHOD_NOT_ALLOWED: "use GET or HEAD",
};

/** A google.rpc.Status JSON body, as every other REST error. */
export function fail(res: ServerResponse, reason: string, headers: Record<string, string> = {}): void {
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
      try {
        deps.tickets.verify(ticket, "w");
      } catch (err) {
        if (!(err instanceof TicketError)) throw err;
        return fail(res, err.reason);
      }
    }
    fail(res, "METHOD_NOT_ALLOWED", { allow: "GET, HEAD" });
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
