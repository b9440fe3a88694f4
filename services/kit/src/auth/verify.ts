// Access-token verification (RFC 8725): RS256 only, key by `kid` from the JWKS only (never
// from `jku`/`jwk`/`x5u`), `typ`, `exp`, `nbf`, `iss`, `aud`, `sub` and `sid` all checked.
// Every failure, whatever the input, is UNAUTHENTICATED with a stable reason.
import jwt from "jsonwebtoken";
import { unauthenticated } from "../errors.js";
import type { KeySource } from "./jwks.js";

export interface AccessClaims {
  sub: string;
  sid: string;
  admin: boolean;
  exp: number;
}

export interface VerifySettings {
  issuer: string;
  audience: string;
  /** Allowed clock skew in seconds. */
  clockToleranceSec?: number;
}

const MAX_TOKEN_LENGTH = 8192;
const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verified tokens by their exact string, until they expire: a token is checked with RSA once
 * per replica, not on every call. Bounded (cleared when full). The session check still runs
 * on every call, so revocation is unaffected (a key dropped from the JWKS stops verifying new
 * tokens at once, tokens already verified with it live out their own expiry, ≤ 15 min).
 * The token answered last is compared before the map is asked: calls on one connection mostly
 * carry one token, and comparing it costs less than hashing a new ~700-character string.
 */
export function createVerifyCache(max = 20_000) {
  const cache = new Map<string, AccessClaims>();
  let lastToken = "";
  let lastClaims: AccessClaims | undefined;
  /** The claims of an already verified, unexpired token, or undefined (no I/O). */
  const cached = (token: string): AccessClaims | undefined => {
    const now = Date.now();
    if (lastClaims !== undefined && token === lastToken && lastClaims.exp * 1000 > now) return lastClaims;
    const hit = cache.get(token);
    if (hit === undefined || hit.exp * 1000 <= now) return undefined;
    lastToken = token;
    lastClaims = hit;
    return hit;
  };
  return {
    cached,
    async verify(token: string, keys: KeySource, s: VerifySettings): Promise<AccessClaims> {
      const hit = cached(token);
      if (hit) return hit;
      const claims = await verifyAccessToken(token, keys, s);
      if (cache.size >= max) cache.clear();
      cache.set(token, claims);
      return claims;
    },
  };
}

export async function verifyAccessToken(
  token: string,
  keys: KeySource,
  s: VerifySettings,
): Promise<AccessClaims> {
  const invalid = (why: string) => unauthenticated("INVALID_TOKEN", `invalid access token: ${why}`);
  if (token.length > MAX_TOKEN_LENGTH || !JWS_SHAPE.test(token)) throw invalid("malformed");
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
  } catch {
    throw invalid("malformed header");
  }
  if (typeof header !== "object" || header === null) throw invalid("malformed header");
  if (header.alg !== "RS256") throw invalid("algorithm not allowed");
  if (header.typ !== "at+jwt") throw invalid("wrong token type");
  if (typeof header.kid !== "string" || header.kid.length === 0 || header.kid.length > 128)
    throw invalid("no key id");
  const key = await keys.get(header.kid);
  if (!key) throw invalid("unknown key");
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key, {
      algorithms: ["RS256"],
      issuer: s.issuer,
      audience: s.audience,
      clockTolerance: s.clockToleranceSec ?? 5,
      complete: false,
    }) as jwt.JwtPayload;
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw unauthenticated("TOKEN_EXPIRED", "access token expired");
    throw invalid("signature or claims rejected");
  }
  if (typeof payload !== "object" || payload === null) throw invalid("malformed payload");
  const { sub, sid, typ, exp } = payload as Record<string, unknown>;
  if (typ !== "access") throw invalid("wrong token type");
  if (typeof sub !== "string" || sub.length === 0 || typeof sid !== "string" || sid.length === 0) {
    throw invalid("missing subject or session");
  }
  if (typeof exp !== "number") throw invalid("no expiry");
  return { sub, sid, admin: (payload as { adm?: unknown }).adm === true, exp };
}
