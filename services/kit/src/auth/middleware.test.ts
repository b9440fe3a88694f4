// Service callers on user-facing methods (the method policy's service_callers): a listed mesh
// service without an access token runs as itself, a token always makes the call the user's,
// and nobody else (unlisted or unproven services, the gateway in xfcc mode) gets in tokenless.
import { generateKeyPairSync } from "node:crypto";
import { type MethodInfo, methodCatalog } from "@filemesh/contracts";
import { Metadata, status } from "@grpc/grpc-js";
import jwt from "jsonwebtoken";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import type { CallContext } from "../grpc/context.js";
import type { Logger } from "../logger.js";
import { rateLimitMiddleware } from "../ratelimit/middleware.js";
import { authMiddleware, INTERNAL_TOKEN_HEADER, type InternalAuth, SERVICE_HEADER } from "./middleware.js";

const SECRET = "0123456789abcdef-secret";
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const verify = { issuer: "filemesh", audience: "filemesh" };
const method = (name: string): MethodInfo => {
  const m = methodCatalog.find((x) => x.path === `/filemesh.permission.v1.PermissionService/${name}`);
  if (!m) throw new Error(`no method ${name}`);
  return m;
};
const userToken = (sub: string) =>
  jwt.sign({ sub, sid: "s1", typ: "access" }, privateKey, {
    algorithm: "RS256",
    keyid: "k1",
    header: { alg: "RS256", typ: "at+jwt", kid: "k1" },
    expiresIn: 60,
    ...verify,
  });

function ctxOf(m: MethodInfo, headers: Record<string, string>): CallContext {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const log = { warn() {} } as unknown as Logger;
  return {
    method: m,
    requestId: "r",
    metadata,
    signal: new AbortController().signal,
    peer: "127.0.0.1:1",
    log,
    setHeader() {},
    sendHeader() {},
  } as CallContext;
}

/** The principal the call reached the handler with, or the refusal's reason. */
async function outcome(internal: InternalAuth, m: MethodInfo, headers: Record<string, string>) {
  const ctx = ctxOf(m, headers);
  const mw = authMiddleware({
    keys: { get: async (kid) => (kid === "k1" ? publicKey : undefined) },
    verify,
    sessions: { isLive: async () => true },
    internal,
  });
  try {
    let reached = false;
    await mw(ctx, async () => {
      reached = true;
    });
    return reached ? ctx.principal?.subject : "not reached";
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return `${status[err.code]} ${err.reason}`;
  }
}

const token: InternalAuth = { mode: "token", token: SECRET };
const as = (name: string, secret = SECRET) => ({ [SERVICE_HEADER]: name, [INTERNAL_TOKEN_HEADER]: secret });
const xfcc = (sa: string) => ({
  "x-forwarded-client-cert": `By=spiffe://cluster.local/ns/filemesh/sa/permission;Hash=ab;URI=spiffe://cluster.local/ns/filemesh/sa/${sa}`,
});

describe("service callers on a user-facing method", () => {
  it("are declared in the contract: Check and CheckBatch for the file service only", () => {
    expect(method("Check").policy.serviceCallers).toEqual(["file"]);
    expect(method("CheckBatch").policy.serviceCallers).toEqual(["file"]);
    expect(method("ListAccessible").policy.serviceCallers).toEqual([]);
  });

  it("let a listed service in as itself without a token (shared-token mode)", async () => {
    expect(await outcome(token, method("Check"), as("file"))).toBe("service:file");
    expect(await outcome(token, method("CheckBatch"), as("file"))).toBe("service:file");
  });

  it("treat a call with an access token as the user's, whatever service headers it carries", async () => {
    const headers = { ...as("file"), authorization: `Bearer ${userToken("u1")}` };
    expect(await outcome(token, method("Check"), headers)).toBe("user:u1");
    const bad = { ...as("file"), authorization: "Bearer abc.def.ghi" };
    expect(await outcome(token, method("Check"), bad)).toBe("UNAUTHENTICATED INVALID_TOKEN");
  });

  it("refuse unlisted, unproven and unknown services as callers without a token", async () => {
    expect(await outcome(token, method("Check"), as("user"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
    expect(await outcome(token, method("Check"), as("processor"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
    expect(await outcome(token, method("Check"), as("file", "not-the-secret-at-all"))).toBe(
      "UNAUTHENTICATED MISSING_TOKEN",
    );
    expect(await outcome(token, method("Check"), { [SERVICE_HEADER]: "file" })).toBe(
      "UNAUTHENTICATED MISSING_TOKEN",
    );
    expect(await outcome(token, method("ListAccessible"), as("file"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
  });

  it("recognise the sidecar's client certificate in xfcc mode, and not the gateway's", async () => {
    const mode: InternalAuth = { mode: "xfcc" };
    expect(await outcome(mode, method("Check"), xfcc("file"))).toBe("service:file");
    expect(await outcome(mode, method("Check"), xfcc("gateway"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
    expect(await outcome(mode, method("Check"), xfcc("user"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
    // In shared-token mode a forwarded certificate header proves nothing.
    expect(await outcome(token, method("Check"), xfcc("file"))).toBe("UNAUTHENTICATED MISSING_TOKEN");
  });
});

describe("rate limits", () => {
  it("do not apply to a mesh service calling as itself, and do to users", async () => {
    // Counts every Redis command the limiter sends (it answers "allowed").
    let redisCalls = 0;
    const redis = new Proxy(
      {},
      {
        get: () => async () => {
          redisCalls += 1;
          return 0;
        },
      },
    ) as never;
    const mw = rateLimitMiddleware({
      redis,
      limits: { check: { rate: 1, periodMs: 1000, burst: 1 } },
      trustForwardedFor: false,
    });
    const run = async (subject: string) => {
      const ctx = ctxOf(method("Check"), {});
      ctx.principal = { subject, ...(subject.startsWith("user:") ? { userId: subject.slice(5) } : {}) };
      let reached = false;
      await mw(ctx, async () => {
        reached = true;
      });
      return reached;
    };
    expect(await run("service:file")).toBe(true);
    expect(redisCalls).toBe(0);
    expect(await run("user:u1")).toBe(true);
    expect(redisCalls).toBe(1);
  });
});
