// The verified forwarder: a mesh service that has authenticated a user's call (token verified,
// session live, rate limited where the call came in) and calls another service on that user's
// behalf says so in `x-filemesh-principal`, next to its own service identity. The receiver
// trusts the header only when the caller proves that identity (the internal token, or the
// sidecar's XFCC element in the trust domain and namespace) and the identity is one of the
// mesh's own services (FORWARDERS; never the gateway, which is not trusted with identity).
// It then skips the JWT (the forwarder verified it) and the rate limit (the user was limited
// where the call came in), but still checks the session (cached ≤ 1 s), so revocation bites
// within the same bound as on any other call, and the admin claim as the token had it.
// A header without a proven forwarder is ignored: the call is an outside call like any other
// (token required, verified, limited).
import type { Principal } from "../grpc/context.js";

export const PRINCIPAL_HEADER = "x-filemesh-principal";

/** Mesh services that may forward a user's principal (service identities, not the gateway). */
export const FORWARDERS: ReadonlySet<string> = new Set(["auth", "user", "file", "permission", "processor"]);

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A user principal, as one header value: `v1;<user id>;<session id>;<0|1 admin>;<token exp, s>`. */
export function principalHeader(p: Principal): string | undefined {
  if (!p.userId || !p.sessionId || p.expiresAt === undefined) return undefined;
  return `v1;${p.userId};${p.sessionId};${p.admin ? 1 : 0};${Math.floor(p.expiresAt / 1000)}`;
}

export interface ForwardedClaims {
  sub: string;
  sid: string;
  admin: boolean;
  /** Expiry of the user's access token, epoch seconds. */
  exp: number;
}

/** The claims of a principal header, or undefined when malformed. */
export function parsePrincipalHeader(value: string): ForwardedClaims | undefined {
  const parts = value.split(";");
  if (parts.length !== 5 || parts[0] !== "v1") return undefined;
  const [, sub, sid, adm, exp] = parts as [string, string, string, string, string];
  if (!ID.test(sub) || !ID.test(sid) || (adm !== "0" && adm !== "1") || !/^\d{1,12}$/.test(exp)) {
    return undefined;
  }
  return { sub, sid, admin: adm === "1", exp: Number(exp) };
}
