// Authentication for every service, driven by each method's policy in the contracts:
//  - public methods: no token needed;
//  - internal methods: only the listed mesh services (shared internal token locally, or the
//    Istio sidecar's x-forwarded-client-cert identity in a cluster); end-user tokens refused;
//  - everything else: a valid access token whose session is still live; admin methods also
//    need the admin claim. A method may also list service callers: a call from one of them
//    that carries no access token runs as that service (a call with a token is the user's).
//    The principal is handed to handlers as ctx.principal.
//  - a user's call forwarded by a mesh service that proves its identity (the verified
//    forwarder, auth/forwarded.ts): the session is checked, the token is not verified again.
import { timingSafeEqual } from "node:crypto";
import { permissionDenied, unauthenticated, unavailable } from "../errors.js";
import { type CallContext, metadataString, type Principal } from "../grpc/context.js";
import type { Middleware } from "../grpc/middleware.js";
import { FORWARDERS, PRINCIPAL_HEADER, parsePrincipalHeader } from "./forwarded.js";
import type { KeySource } from "./jwks.js";
import type { SessionChecker } from "./session-keys.js";
import { createVerifyCache, type VerifySettings } from "./verify.js";

export type InternalAuth =
  | { mode: "token"; token: string }
  /** The Istio sidecar's XFCC; only identities of this trust domain and namespace count. */
  | { mode: "xfcc"; trustDomain: string; namespace: string };

export interface AuthMiddlewareOptions {
  keys: KeySource;
  verify: VerifySettings;
  sessions: SessionChecker;
  internal: InternalAuth;
}

export const SERVICE_HEADER = "x-filemesh-service";
export const INTERNAL_TOKEN_HEADER = "x-filemesh-internal-token";

const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/;
const SPIFFE_SA = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([a-z0-9-]+)$/;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The calling mesh service, or undefined when the caller did not prove one. */
export function callingService(ctx: CallContext, internal: InternalAuth): string | undefined {
  if (internal.mode === "token") {
    const name = metadataString(ctx.metadata, SERVICE_HEADER);
    const token = metadataString(ctx.metadata, INTERNAL_TOKEN_HEADER);
    return name && token && internal.token && sameSecret(token, internal.token) ? name : undefined;
  }
  // Only the element the receiving sidecar appended (the last) is the caller's certificate;
  // anything before it came from further out (another proxy, or the client) and may be forged.
  const last = lastXfccElement(ctx.metadata.get("x-forwarded-client-cert").join(","));
  const uris = xfccFields(last ?? "")?.filter(([k]) => k.toLowerCase() === "uri");
  if (uris?.length !== 1) return undefined;
  const m = SPIFFE_SA.exec(uris[0]?.[1] ?? "");
  return m && m[1] === internal.trustDomain && m[2] === internal.namespace ? m[3] : undefined;
}

/**
 * The last element of an XFCC header. Elements are separated by commas outside double quotes
 * (Subject="CN=a,O=b" holds one). Scanning from the right, the sidecar's own element is read
 * whole whatever a client put in front of it (an unbalanced quote there cannot swallow it).
 */
export function lastXfccElement(header: string): string | undefined {
  let quoted = false;
  for (let i = header.length - 1; i >= 0; i--) {
    const c = header[i];
    if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) return header.slice(i + 1).trim() || undefined;
  }
  return quoted ? undefined : header.trim() || undefined;
}

/** The key=value pairs of one XFCC element (`;`-separated, quoted values unquoted); undefined when malformed. */
export function xfccFields(element: string): [string, string][] | undefined {
  const pairs: string[] = [];
  let cur = "";
  let quoted = false;
  for (const c of element) {
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      pairs.push(cur);
      cur = "";
    } else cur += c;
  }
  if (quoted) return undefined;
  pairs.push(cur);
  const out: [string, string][] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) return undefined;
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out.push([pair.slice(0, eq).trim(), v]);
  }
  return out;
}

type Claims = { sub: string; sid: string; admin: boolean; exp: number };

/**
 * A verified user enters: the admin role if the method needs it, then the principal (a
 * module-level function: nothing allocated per call but the principal). `ended`: the session
 * has ended (only where the policy says `ended_session_ok`, see `admit`).
 */
function enter(
  ctx: Parameters<Middleware>[0],
  next: Parameters<Middleware>[1],
  claims: Claims,
  forwardedBy?: string,
  ended = false,
) {
  if (ctx.method.policy.admin && !claims.admin)
    return Promise.reject(permissionDenied("ADMIN_REQUIRED", "this method needs the admin role"));
  const p = principalOf(claims);
  ctx.principal =
    forwardedBy === undefined && !ended
      ? p
      : {
          ...p,
          ...(forwardedBy === undefined ? {} : { forwardedBy }),
          ...(ended ? { sessionEnded: true } : {}),
        };
  return next();
}

/**
 * The principal of verified claims, made once per claims object: the verify cache hands out one
 * object per token, so a user's calls share one (read-only) principal and one subject string,
 * which the rate limiter's and the admission's maps then hash once.
 */
const principals = new WeakMap<Claims, Principal>();
function principalOf(claims: Claims): Principal {
  let p = principals.get(claims);
  if (p === undefined) {
    p = {
      subject: `user:${claims.sub}`,
      userId: claims.sub,
      sessionId: claims.sid,
      admin: claims.admin,
      expiresAt: claims.exp * 1000,
    };
    principals.set(claims, p);
  }
  return p;
}

/**
 * A verified user enters once the session is known to be live. A method whose policy says
 * `ended_session_ok` (Logout) also runs for an ended session, as a principal marked ended that
 * only `callerSessionOrEnded` accepts: a logout retried after its answer was lost is then OK.
 */
async function admit(
  ctx: Parameters<Middleware>[0],
  next: Parameters<Middleware>[1],
  liveSession: (sid: string, sub: string) => Promise<boolean>,
  claims: Claims,
  forwardedBy?: string,
) {
  if (await liveSession(claims.sid, claims.sub)) return enter(ctx, next, claims, forwardedBy);
  if (!ctx.method.policy.endedSessionOk) throw sessionEnded();
  return enter(ctx, next, claims, forwardedBy, true);
}

const sessionEnded = () => unauthenticated("SESSION_ENDED", "the session has ended; log in again");

export function authMiddleware(o: AuthMiddlewareOptions): Middleware {
  const verified = createVerifyCache();
  const liveSession = async (sid: string, sub: string): Promise<boolean> => {
    try {
      return await o.sessions.isLive(sid, sub);
    } catch {
      throw unavailable("SESSION_STORE_UNAVAILABLE", "cannot check the session right now", 1000);
    }
  };
  // The Bearer header read last and its token: the same header again is not parsed again.
  let lastHeader = "";
  let lastHeaderToken = "";
  const tokenOf = (header: string): string | undefined => {
    if (header === lastHeader) return lastHeaderToken;
    const token = BEARER.exec(header)?.[1];
    if (token) {
      lastHeader = header;
      lastHeaderToken = token;
    }
    return token;
  };
  // A plain function (not async): a call whose token and session are cached goes on to the next
  // middleware without a promise of its own; what it throws becomes the call's rejection below.
  const authenticate: Middleware = (ctx, next) => {
    const policy = ctx.method.policy;
    if (policy.internalCallers.length > 0) {
      const service = callingService(ctx, o.internal);
      if (!service) throw unauthenticated("SERVICE_IDENTITY_REQUIRED", "this method is internal to the mesh");
      if (!policy.internalCallers.includes(service)) {
        throw permissionDenied("CALLER_NOT_ALLOWED", `service ${service} may not call ${ctx.method.method}`);
      }
      ctx.principal = { subject: `service:${service}` };
      return next();
    }
    if (policy.public) return next();
    const forwarded = metadataString(ctx.metadata, PRINCIPAL_HEADER);
    if (forwarded !== undefined) {
      const by = callingService(ctx, o.internal);
      const claims = by !== undefined && FORWARDERS.has(by) ? parsePrincipalHeader(forwarded) : undefined;
      // Without a proven forwarder the header is ignored: an outside call like any other.
      if (claims) {
        if (claims.exp * 1000 <= Date.now()) throw unauthenticated("TOKEN_EXPIRED", "access token expired");
        if (o.sessions.cachedLive?.(claims.sid, claims.sub)) return enter(ctx, next, claims, by);
        return admit(ctx, next, liveSession, claims, by);
      }
    }
    const header = metadataString(ctx.metadata, "authorization");
    if (!header && policy.serviceCallers.length > 0) {
      // Any other service (in xfcc mode also the gateway, which proves its own identity on
      // every call it forwards) is just a caller without a token.
      const service = callingService(ctx, o.internal);
      if (service && policy.serviceCallers.includes(service)) {
        ctx.principal = { subject: `service:${service}` };
        return next();
      }
    }
    if (!header) throw unauthenticated("MISSING_TOKEN", "authentication required");
    const token = tokenOf(header);
    if (!token) throw unauthenticated("INVALID_TOKEN", "invalid access token: expected a Bearer token");
    // The common case, a token verified before and a session confirmed within the cache's
    // bound: no I/O, nothing awaited before the next middleware.
    const known = verified.cached(token);
    if (known && o.sessions.cachedLive?.(known.sid, known.sub)) return enter(ctx, next, known);
    if (known) return admit(ctx, next, liveSession, known);
    return verified.verify(token, o.keys, o.verify).then((claims) => admit(ctx, next, liveSession, claims));
  };
  return (ctx, next) => {
    try {
      return authenticate(ctx, next);
    } catch (err) {
      return Promise.reject(err);
    }
  };
}
