// Per-caller rate limits by the method's rate class (from the contracts). The caller is the
// principal when authenticated, else the client address. A call costs `ctx.cost` tokens (set
// from the method's cost hook when the service was registered, e.g. CheckBatch: its items;
// default 1) — taken in the same single script call, no extra round trip. Exceeded → RESOURCE_EXHAUSTED with
// RetryInfo (429 + Retry-After through the gateway). Mesh services calling as themselves are
// not limited: they call on behalf of many clients, each limited where it came in (one shared
// budget would let a few clients starve everyone's share links). If Redis is unreachable the
// limiter lets calls through (and counts it): availability over throttling; brute-force
// protection of logins has its own fail-closed path in the auth service.
import { isIP } from "node:net";
import type { Redis } from "ioredis";
import type { Counter } from "prom-client";
import { resourceExhausted } from "../errors.js";
import type { CallContext } from "../grpc/context.js";
import type { Middleware } from "../grpc/middleware.js";
import { type Limit, takeToken } from "./gcra.js";

export interface RateLimitOptions {
  redis: Redis;
  limits: Record<string, Limit>;
  /** Take the client address from X-Forwarded-For (only behind the gateway/Envoy). */
  trustForwardedFor: boolean;
  /** Proxies in front of the service that appended to X-Forwarded-For (TRUSTED_PROXY_HOPS). */
  trustedProxyHops?: number;
  failOpen?: Counter;
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
  return async (ctx, next) => {
    const cls = ctx.method.policy.rateClass;
    const limit = cls ? o.limits[cls] : undefined;
    if (!limit || ctx.principal?.subject.startsWith("service:")) return next();
    const who = ctx.principal?.subject ?? `ip:${clientAddress(ctx, o.trustForwardedFor, o.trustedProxyHops)}`;
    let waitMs = 0;
    try {
      // The limit is part of the key, so changing a limit starts from a fresh budget.
      waitMs = await takeToken(
        o.redis,
        `fm:rl:${cls}:${limit.rate}/${limit.periodMs}:${who}`,
        limit,
        ctx.cost,
      );
    } catch (err) {
      o.failOpen?.inc({ rate_class: cls });
      ctx.log.warn({ err: (err as Error).message, rate_class: cls }, "rate limiter unavailable; allowing");
    }
    if (waitMs > 0) throw resourceExhausted("RATE_LIMITED", `too many ${cls} requests; retry later`, waitMs);
    return next();
  };
}
