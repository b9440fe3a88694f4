// Per-caller rate limits by the method's rate class (from the contracts). The caller is the
// principal when authenticated, else the client address. A call costs `ctx.cost` tokens (set
// from the method's cost hook when the service was registered, e.g. CheckBatch: its items;
// default 1) — taken in the same single script call, no extra round trip; a local token bucket
// leases a caller's tokens in batches (ratelimit/local-bucket.ts), so most calls take no round
// trip at all. Exceeded → RESOURCE_EXHAUSTED with
// RetryInfo (429 + Retry-After through the gateway). Mesh services calling as themselves are
// not limited: they call on behalf of many clients, each limited where it came in (one shared
// budget would let a few clients starve everyone's share links); nor are calls a mesh service
// forwards for a user it already limited (ctx.principal.forwardedBy). If Redis is unreachable the
// limiter lets calls through (and counts it): availability over throttling; brute-force
// protection of logins has its own fail-closed path in the auth service.
import { isIP } from "node:net";
import type { Redis } from "ioredis";
import type { Counter } from "prom-client";
import { resourceExhausted } from "../errors.js";
import type { CallContext } from "../grpc/context.js";
import type { Middleware } from "../grpc/middleware.js";
import type { Limit } from "./gcra.js";
import { createLocalBucket, type LocalBucketOptions } from "./local-bucket.js";

export interface RateLimitOptions {
  redis: Redis;
  limits: Record<string, Limit>;
  /** Take the client address from X-Forwarded-For (only behind the gateway/Envoy). */
  trustForwardedFor: boolean;
  /** Proxies in front of the service that appended to X-Forwarded-For (TRUSTED_PROXY_HOPS). */
  trustedProxyHops?: number;
  failOpen?: Counter;
  /** The local token bucket in front of Redis (ratelimit/local-bucket.ts). */
  localBucket?: LocalBucketOptions;
}

/**
 * The address a limit counts against. Behind the gateway/Envoy (trustForwardedFor) it is the
 * X-Forwarded-For entry `trustedProxyHops` from the right: the address the outermost trusted
 * proxy saw. Everything left of it is what the client claimed and is never used (a client
 * could otherwise pick a fresh budget per request, or spend a victim's). Both gateways
 * overwrite the header with the one address they trust, so one hop is the default.
 */
export function clientAddress(ctx: CallContext, trustForwardedFor: boolean, trustedProxyHops = 1): string {
  const peer = ctx.peer.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  if (!trustForwardedFor) return peer;
  const hops = ctx.metadata
    .get("x-forwarded-for")
    .join(",")
    .split(",")
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  if (hops.length === 0) return peer;
  // Fewer entries than trusted hops: the leftmost was still written by a trusted proxy.
  const chosen = normalizeAddress(hops[Math.max(0, hops.length - Math.max(1, trustedProxyHops))] ?? "");
  return chosen ?? peer;
}

/** An IP address without port or brackets, or undefined when the entry is not one. */
function normalizeAddress(entry: string): string | undefined {
  if (isIP(entry)) return entry;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry)?.[1];
  if (bracketed && isIP(bracketed) === 6) return bracketed;
  const v4port = /^([\d.]+):\d+$/.exec(entry)?.[1];
  return v4port && isIP(v4port) === 4 ? v4port : undefined;
}

export function rateLimitMiddleware(o: RateLimitOptions): Middleware {
  const bucket = createLocalBucket(o.redis, o.localBucket);
  // The key of each (class, limit) once: "fm:rl:<class>:<rate>/<period>:" + who.
  const prefixes = new Map<string, string>();
  const prefixOf = (cls: string, limit: Limit) => {
    let p = prefixes.get(cls);
    if (p === undefined) {
      // The limit is part of the key, so changing a limit starts from a fresh budget.
      p = `fm:rl:${cls}:${limit.rate}/${limit.periodMs}:`;
      prefixes.set(cls, p);
    }
    return p;
  };
  // The key taken last: a principal's calls carry one subject string (auth/middleware.ts), so
  // the same caller and class again reuse the key, whose hash the bucket's map already has.
  let lastWho = "";
  let lastCls = "";
  let lastKey = "";
  const keyOf = (cls: string, limit: Limit, who: string): string => {
    if (who !== lastWho || cls !== lastCls) {
      lastKey = prefixOf(cls, limit) + who;
      lastWho = who;
      lastCls = cls;
    }
    return lastKey;
  };
  const failedOpen = (ctx: CallContext, cls: string, err: unknown) => {
    o.failOpen?.inc({ rate_class: cls });
    ctx.log.warn({ err: (err as Error).message, rate_class: cls }, "rate limiter unavailable; allowing");
  };
  const refused = (cls: string, waitMs: number) =>
    resourceExhausted("RATE_LIMITED", `too many ${cls} requests; retry later`, waitMs);
  return (ctx, next) => {
    const cls = ctx.method.policy.rateClass;
    const limit = cls ? o.limits[cls] : undefined;
    const p = ctx.principal;
    if (!limit || p?.subject.startsWith("service:") || p?.forwardedBy !== undefined) return next();
    const who = p?.subject ?? `ip:${clientAddress(ctx, o.trustForwardedFor, o.trustedProxyHops)}`;
    let taken: number | Promise<number>;
    try {
      taken = bucket.take(keyOf(cls!, limit, who), limit, ctx.cost ?? 1);
    } catch (err) {
      failedOpen(ctx, cls!, err);
      return next();
    }
    // Spent from the local bucket: no round trip, no extra promise.
    if (typeof taken === "number") return taken > 0 ? Promise.reject(refused(cls!, taken)) : next();
    return taken.then(
      (waitMs) => (waitMs > 0 ? Promise.reject(refused(cls!, waitMs)) : next()),
      (err) => {
        failedOpen(ctx, cls!, err);
        return next();
      },
    );
  };
}
