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
import { clientAddress, rateLimitMiddleware } from "../ratelimit/middleware.js";
import {
  authMiddleware,
  callingService,
  INTERNAL_TOKEN_HEADER,
  type InternalAuth,
  lastXfccElement,
  SERVICE_HEADER,
} from "./middleware.js";

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

function ctxOf(m: MethodInfo, headers: Record<string, string | string[]>, peer = "127.0.0.1:1"): CallContext {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) for (const one of [v].flat()) metadata.add(k, one);
  const log = { warn() {} } as unknown as Logger;
  return {
    method: m,
    requestId: "r",
    metadata,
    signal: new AbortController().signal,
    peer,
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
const mesh: InternalAuth = { mode: "xfcc", trustDomain: "cluster.local", namespace: "filemesh" };
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
    const mode = mesh;
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

/** The service an XFCC header proves, in xfcc mode for cluster.local / filemesh. */
const serviceFrom = (header: string | string[]) =>
  callingService(ctxOf(method("WriteRelations"), { "x-forwarded-client-cert": header }), mesh);
const element = (sa: string, ns = "filemesh", domain = "cluster.local") =>
  `By=spiffe://cluster.local/ns/filemesh/sa/permission;Hash=0a1b;Subject="";URI=spiffe://${domain}/ns/${ns}/sa/${sa}`;

describe("the XFCC identity (INTERNAL_AUTH=xfcc)", () => {
  it("is the element the sidecar appended last, never an earlier one a client sent", async () => {
    // A client's forged element first, the sidecar's own (the gateway) appended after it.
    expect(serviceFrom(`${element("file")},${element("gateway")}`)).toBe("gateway");
    expect(serviceFrom([element("file"), element("gateway")])).toBe("gateway");
    expect(serviceFrom(element("file"))).toBe("file");
    // Through the middleware: the gateway's call with a forged file identity in front is refused.
    expect(
      await outcome(mesh, method("WriteRelations"), {
        "x-forwarded-client-cert": `${element("file")},${element("gateway")}`,
      }),
    ).toBe("PERMISSION_DENIED CALLER_NOT_ALLOWED");
    expect(
      await outcome(mesh, method("WriteRelations"), { "x-forwarded-client-cert": element("file") }),
    ).toBe("service:file");
  });

  it("reads quoted values with commas and semicolons, and an unbalanced quote in front cannot swallow it", () => {
    const subject =
      'By=spiffe://cluster.local/ns/filemesh/sa/x;Subject="CN=a,O=b;c";URI=spiffe://cluster.local/ns/filemesh/sa/user';
    expect(serviceFrom(`${element("file")},${subject}`)).toBe("user");
    // The client's part ends in an open quote: read from the right, the sidecar's element stands.
    expect(serviceFrom(`URI=spiffe://cluster.local/ns/filemesh/sa/file;X=",${element("gateway")}`)).toBe(
      "gateway",
    );
    expect(lastXfccElement(`a="x,y",b=1`)).toBe("b=1");
    expect(lastXfccElement(`a="x,y"`)).toBe('a="x,y"');
    expect(lastXfccElement(`"unbalanced`)).toBeUndefined();
  });

  it("must be in the configured trust domain and namespace, with exactly one SPIFFE URI", () => {
    expect(serviceFrom(element("file", "other-ns"))).toBeUndefined();
    expect(serviceFrom(element("file", "filemesh", "evil.example"))).toBeUndefined();
    expect(serviceFrom(`${element("file")};URI=spiffe://cluster.local/ns/filemesh/sa/auth`)).toBeUndefined();
    expect(serviceFrom("By=spiffe://cluster.local/ns/filemesh/sa/file;Hash=ab")).toBeUndefined();
    expect(serviceFrom("URI=spiffe://cluster.local/ns/filemesh/sa/file/extra")).toBeUndefined();
    expect(serviceFrom("")).toBeUndefined();
    const other: InternalAuth = { mode: "xfcc", trustDomain: "corp.example", namespace: "files" };
    const ctx = ctxOf(method("WriteRelations"), {
      "x-forwarded-client-cert": element("file", "files", "corp.example"),
    });
    expect(callingService(ctx, other)).toBe("file");
    expect(callingService(ctx, mesh)).toBeUndefined();
  });
});

describe("the client address of rate limits", () => {
  const addr = (xff: string | string[] | undefined, trust: boolean, hops?: number) =>
    clientAddress(
      ctxOf(method("Check"), xff === undefined ? {} : { "x-forwarded-for": xff }, "10.0.0.9:4242"),
      trust,
      hops,
    );

  it("is the entry the trusted proxy wrote (the rightmost by default), never one the client put in front", () => {
    expect(addr("203.0.113.7", true)).toBe("203.0.113.7");
    expect(addr("1.2.3.4, 203.0.113.7", true)).toBe("203.0.113.7");
    expect(addr(["1.2.3.4", "203.0.113.7"], true)).toBe("203.0.113.7");
    // Two trusted proxies (an L7 load balancer in front of the edge): the second from the right.
    expect(addr("1.2.3.4, 203.0.113.7, 10.1.1.1", true, 2)).toBe("203.0.113.7");
    expect(addr("203.0.113.7", true, 2)).toBe("203.0.113.7");
    expect(addr("[2001:db8::1]:443", true)).toBe("2001:db8::1");
    expect(addr("2001:db8::1", true)).toBe("2001:db8::1");
    expect(addr("198.51.100.2:5555", true)).toBe("198.51.100.2");
  });

  it("is the peer when X-Forwarded-For is not trusted, absent, or not an address", () => {
    expect(addr("203.0.113.7", false)).toBe("10.0.0.9");
    expect(addr(undefined, true)).toBe("10.0.0.9");
    expect(addr("1.2.3.4, not-an-ip", true)).toBe("10.0.0.9");
    expect(addr(`1.2.3.4, ${"9".repeat(80)}`, true)).toBe("10.0.0.9");
  });
});
