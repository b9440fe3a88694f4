// Per-caller rate limits by the method's rate class (from the contracts). The caller is the
// principal when authenticated, else the client address. Exceeded → RESOURCE_EXHAUSTED with
// RetryInfo (429 + Retry-After through the gateway). Mesh services calling as themselves are
// not limited: they call on behalf of many clients, each limited where it came in (one shared
// budget would let a few clients starve everyone's share links). If Redis is unreachable the
// limiter lets calls through (and counts it): availability over throttling; brute-force
// protection of logins has its own fail-closed path in the auth service.
import type { Redis } from "ioredis";
import type { Counter } from "prom-client";
import { resourceExhausted } from "../errors.js";
import { type CallContext, metadataString } from "../grpc/context.js";
import type { Middleware } from "../grpc/middleware.js";
import { type Limit, takeToken } from "./gcra.js";

export interface RateLimitOptions {
  redis: Redis;
  limits: Record<string, Limit>;
  /** Use the first X-Forwarded-For hop as the client address (set by the gateway/Envoy). */
  trustForwardedFor: boolean;
  failOpen?: Counter;
}

export function clientAddress(ctx: CallContext, trustForwardedFor: boolean): string {
  const xff = trustForwardedFor ? metadataString(ctx.metadata, "x-forwarded-for") : undefined;
  const first = xff?.split(",")[0]?.trim();
  if (first && first.length <= 64) return first;
  return ctx.peer.replace(/:\d+$/, "");
}

export function rateLimitMiddleware(o: RateLimitOptions): Middleware {
  return async (ctx, next) => {
    const cls = ctx.method.policy.rateClass;
    const limit = cls ? o.limits[cls] : undefined;
    if (!limit || ctx.principal?.subject.startsWith("service:")) return next();
    const who = ctx.principal?.subject ?? `ip:${clientAddress(ctx, o.trustForwardedFor)}`;
    let waitMs = 0;
    try {
      // The limit is part of the key, so changing a limit starts from a fresh budget.
      waitMs = await takeToken(o.redis, `fm:rl:${cls}:${limit.rate}/${limit.periodMs}:${who}`, limit);
    } catch (err) {
      o.failOpen?.inc({ rate_class: cls });
      ctx.log.warn({ err: (err as Error).message, rate_class: cls }, "rate limiter unavailable; allowing");
    }
    if (waitMs > 0) throw resourceExhausted("RATE_LIMITED", `too many ${cls} requests; retry later`, waitMs);
    return next();
  };
}
