// Transfer tickets: the data plane's only authorisation. The file service decides access on
// the control path (gRPC: authorise, reserve quota, name the object), then mints a ticket that
// lets the holder move the bytes of ONE object, in ONE direction, within ONE byte range, until
// a short expiry — and nothing else. The data endpoint checks the HMAC and the claims, never
// the caller's token or the database: a ticket is a bearer capability for a few seconds.
//
// Wire form: base64url(JSON claims) "." base64url(HMAC-SHA256(key, "fmt1." + claims)).
// The claims are signed, not encrypted: they name only server-generated ids and the headers
// the download carries (the file's name is the caller's own to know).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Queryable } from "@filemesh/kit";

export type Direction = "r" | "w";

export interface DownloadClaims {
  d: "r";
  /** Object key in the blob store. */
  k: string;
  /** Byte window the ticket grants: [o, o + l). */
  o: number;
  l: number;
  /** Size of the whole object. */
  s: number;
  /** Expiry, ms since the epoch. */
  e: number;
  /** Principal (user id; "link:<id>" for share links). */
  p: string;
  /** File and version. */
  f: string;
  v: string;
  /** Content type, Content-Disposition and ETag of the response. */
  t: string;
  c: string;
  h: string;
}

export interface UploadClaims {
  d: "w";
  /** Most bytes the upload may carry. */
  l: number;
  e: number;
  /** Principal: user id, session id, admin, access token expiry (ms) — forwarded to peers. */
  p: string;
  sid: string;
  a: boolean;
  x: number;
  /** Target folder and (clean) name; declared SHA-256 ("" = none); AIP-155 request id. */
  f: string;
  n: string;
  h: string;
  r: string;
}

export type Claims = DownloadClaims | UploadClaims;

const PREFIX = "fmt1.";
/** Longest ticket accepted: beyond it nothing is parsed (a hostile URL costs nothing). */
export const MAX_TICKET_CHARS = 4096;

export class TicketError extends Error {
  constructor(
    readonly reason: "TICKET_MALFORMED" | "TICKET_INVALID" | "TICKET_EXPIRED" | "TICKET_WRONG_DIRECTION",
  ) {
    super(reason);
  }
}

export interface Tickets {
  mint(claims: Claims): string;
  /** The claims of a valid, unexpired ticket for `direction`; TicketError otherwise. */
  verify(ticket: string, direction: Direction, now?: number): Claims;
}

export function createTickets(key: Buffer): Tickets {
  if (key.length < 32) throw new Error("transfer ticket key must be at least 32 bytes");
  const mac = (body: string) => createHmac("sha256", key).update(PREFIX).update(body).digest();
  return {
    mint(claims) {
      const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
      return `${body}.${mac(body).toString("base64url")}`;
    },
    verify(ticket, direction, now = Date.now()) {
      if (typeof ticket !== "string" || ticket.length > MAX_TICKET_CHARS)
        throw new TicketError("TICKET_MALFORMED");
      const dot = ticket.indexOf(".");
      if (dot <= 0 || dot !== ticket.lastIndexOf(".")) throw new TicketError("TICKET_MALFORMED");
      const body = ticket.slice(0, dot);
      const sig = Buffer.from(ticket.slice(dot + 1), "base64url");
      const want = mac(body);
      if (sig.length !== want.length || !timingSafeEqual(sig, want)) throw new TicketError("TICKET_INVALID");
      let claims: Claims;
      try {
        claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Claims;
      } catch {
        throw new TicketError("TICKET_MALFORMED");
      }
      if (!claims || typeof claims !== "object" || typeof claims.e !== "number") {
        throw new TicketError("TICKET_MALFORMED");
      }
      if (claims.d !== direction) throw new TicketError("TICKET_WRONG_DIRECTION");
      if (claims.e <= now) throw new TicketError("TICKET_EXPIRED");
      return claims;
    },
  };
}

/** The service-wide ticket key: made once, shared by every replica through the database. */
export async function loadTicketKey(q: Queryable): Promise<Buffer> {
  await q.query(
    "INSERT INTO files.secrets (name, value) VALUES ('transfer_ticket_key', $1) ON CONFLICT DO NOTHING",
    [randomBytes(32)],
  );
  const { rows } = (await q.query("SELECT value FROM files.secrets WHERE name = 'transfer_ticket_key'")) as {
    rows: { value: Buffer }[];
  };
  return rows[0]!.value;
}
