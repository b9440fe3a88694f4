// The share-link check against a stand-in PermissionService: asked as the file service about
// `link:<id>` (never with the user's token), with the revision to reach; any answer that is
// not a clear one — an error, a wrong length, a revision below the one asked for, nobody
// listening — is UNAVAILABLE, never an allow.
import { permissionv1 } from "@filemesh/contracts";
import { AppError, type CallContext, type Logger } from "@filemesh/kit";
import { Metadata, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileConfig } from "../config.js";
import { type Access, createAccess } from "./access.js";

const TOKEN = "internal-token-for-tests";
type Answer = permissionv1.CheckBatchResponse | ServiceError;
/** An answer computed from the request (the coalescing tests). */
type Answerer = (req: permissionv1.CheckBatchRequest) => Answer;

let server: Server;
let access: Access;
let answer: Answer | Answerer = { allowed: [true], revision: "7" };
const seen: { req: permissionv1.CheckBatchRequest; md: Metadata; deadline: number }[] = [];
/** WriteRelations received (the stand-in answers revision 4 + their count). */
const writes: permissionv1.WriteRelationsRequest[] = [];
let writeFails = false;
/** Their x-request-id headers. */
const writeIds: string[] = [];

beforeAll(async () => {
  server = new Server();
  const no = (_c: unknown, cb: (e: Partial<ServiceError>) => void) => cb({ code: status.UNIMPLEMENTED });
  const checkBatch: permissionv1.PermissionServiceServer["checkBatch"] = (call, cb) => {
    const d = call.getDeadline();
    seen.push({
      req: call.request,
      md: call.metadata,
      deadline: d instanceof Date ? d.getTime() : Number(d),
    });
    const a = typeof answer === "function" ? answer(call.request) : answer;
    if ("code" in a) cb(a);
    else cb(null, a);
  };
  const writeRelations: permissionv1.PermissionServiceServer["writeRelations"] = (call, cb) => {
    writes.push(call.request);
    writeIds.push(String(call.metadata.get("x-request-id")[0] ?? ""));
    if (writeFails) cb({ code: status.UNAVAILABLE, details: "down" });
    else cb(null, { revision: String(4 + writes.length) });
  };
  server.addService(permissionv1.PermissionServiceService, {
    checkBatch,
    writeRelations,
    check: no,
    listAccessible: no,
    createGrant: no,
    listGrants: no,
    deleteGrant: no,
    watchChanges: (call: { destroy(): void }) => call.destroy(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  access = createAccess(configFor(`127.0.0.1:${port}`));
});
afterAll(() => {
  access?.close();
  server?.forceShutdown();
});

function configFor(addr: string): FileConfig {
  return {
    permissionAddrs: [addr],
    tlsClients: false,
    clientTimeoutMs: 2_000,
    internalAuth: "token",
    internalToken: TOKEN,
  } as unknown as FileConfig;
}

/** An anonymous call that nonetheless carries a user's token (it must not be forwarded). */
function ctx(): CallContext {
  const metadata = new Metadata();
  metadata.set("authorization", "Bearer user-token");
  return {
    metadata,
    requestId: "r1",
    signal: new AbortController().signal,
    deadline: Date.now() + 5_000,
    log: { warn() {} } as unknown as Logger,
  } as unknown as CallContext;
}

/** A call of user `id` (token "Bearer token-<id>", session s-<id>), `deadlineMs` from now. */
function userCtx(id: string, deadlineMs = 5_000): CallContext {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer token-${id}`);
  return {
    metadata,
    requestId: `r-${id}`,
    signal: new AbortController().signal,
    deadline: Date.now() + deadlineMs,
    principal: {
      subject: `user:${id}`,
      userId: id,
      sessionId: `s-${id}`,
      admin: false,
      expiresAt: Date.now() + 600_000,
    },
    log: { warn() {} } as unknown as Logger,
  } as unknown as CallContext;
}

/** Allows exactly the items whose resource is file:<subject's user id>-* (each user's own files). */
const ownFiles: Answerer = (req) => ({
  allowed: req.items.map((i) => i.resource.startsWith(`file:${i.subject.slice("user:".length)}-`)),
  revision: "9",
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "allowed";
  } catch (err) {
    return err instanceof AppError ? `${status[err.code]} ${err.reason}` : String(err);
  }
}

describe("checkLink", () => {
  it("asks as the file service about link:<id>, at least at the given and the last written revision", async () => {
    answer = { allowed: [true], revision: "9" };
    seen.length = 0;
    expect(await access.checkLink(ctx(), "L1", "F1", "read", "4")).toBe(true);
    const { req, md } = seen[0]!;
    expect(req).toEqual({
      items: [{ subject: "link:L1", resource: "file:F1", permission: "read" }],
      minRevision: "4",
    });
    expect(md.get("x-filemesh-service")).toEqual(["file"]);
    expect(md.get("x-filemesh-internal-token")).toEqual([TOKEN]);
    expect(md.get("authorization")).toEqual([]);
    await access.write(
      [{ operation: 1, relation: { object: "file:F1", relation: "viewer", subject: "link:L1" } }],
      ctx(),
    );
    expect(await access.checkLink(ctx(), "L1", "F1", "read", "2")).toBe(true);
    expect(seen[1]!.req.minRevision).toBe("5");
    answer = { allowed: [false], revision: "9" };
    expect(await access.checkLink(ctx(), "L1", "F1", "read", "2")).toBe(false);
  });

  it.each<[string, Answer]>([
    ["no item answered", { allowed: [], revision: "9" }],
    ["too many answered", { allowed: [true, true], revision: "9" }],
    ["an answer from before the revision asked for", { allowed: [true], revision: "3" }],
    ["no revision", { allowed: [true], revision: "" }],
    ["a refusal of the caller", { code: status.PERMISSION_DENIED, details: "no" } as ServiceError],
    ["a stale index", { code: status.UNAVAILABLE, details: "stale" } as ServiceError],
  ])("is UNAVAILABLE on %s", async (_name, a) => {
    answer = a;
    expect(await refusal(access.checkLink(ctx(), "L1", "F1", "read", "6"))).toBe(
      "UNAVAILABLE PERMISSION_UNAVAILABLE",
    );
  });

  it("is UNAVAILABLE when nobody answers", async () => {
    const gone = createAccess(configFor("127.0.0.1:1"));
    try {
      expect(await refusal(gone.checkLink(ctx(), "L1", "F1", "read", "0"))).toBe(
        "UNAVAILABLE PERMISSION_UNAVAILABLE",
      );
    } finally {
      gone.close();
    }
  });
});

describe("one-file checks, coalesced", () => {
  it("go as one CheckBatch per user and turn of the loop, each caller answered about its own items", async () => {
    answer = ownFiles;
    seen.length = 0;
    const asks = [
      access.check(userCtx("a"), "a-1", ["read"], "3"),
      access.check(userCtx("b"), "a-1", ["read", "write"], "8"),
      access.check(userCtx("a"), "b-1", ["read"], "0"),
      access.check(userCtx("b"), "b-2", ["read", "delete"], "1"),
      access.check(userCtx("a"), "a-2", ["read", "write"], "5"),
    ];
    expect(await Promise.all(asks)).toEqual([[true], [false, false], [false], [true, true], [true, true]]);
    // Two calls, one per user, each with that user's own token and only that user's items, at
    // the highest revision its callers asked for.
    expect(seen).toHaveLength(2);
    const byToken: Record<string, permissionv1.CheckBatchRequest> = Object.fromEntries(
      seen.map(({ req, md }) => [String(md.get("authorization")[0]), req]),
    );
    expect(byToken["Bearer token-a"]).toEqual({
      items: [
        { subject: "user:a", resource: "file:a-1", permission: "read" },
        { subject: "user:a", resource: "file:b-1", permission: "read" },
        { subject: "user:a", resource: "file:a-2", permission: "read" },
        { subject: "user:a", resource: "file:a-2", permission: "write" },
      ],
      minRevision: "5",
    });
    expect(byToken["Bearer token-b"]?.items.every((i) => i.subject === "user:b")).toBe(true);
    expect(byToken["Bearer token-b"]?.minRevision).toBe("8");
    // Each call carries the user's verified principal beside this service's identity.
    for (const { md } of seen) {
      expect(md.get("x-filemesh-principal")[0]).toMatch(/^v1;[ab];s-[ab];0;\d+$/);
      expect(md.get("x-filemesh-service")).toEqual(["file"]);
    }
  });

  it("fail together, closed, when their batch fails; the next turn asks again", async () => {
    answer = { code: status.UNAVAILABLE, details: "stale" } as ServiceError;
    const asks = [1, 2, 3].map((i) => refusal(access.check(userCtx("a"), `a-${i}`, ["read"], "0")));
    expect(await Promise.all(asks)).toEqual(Array(3).fill("UNAVAILABLE PERMISSION_UNAVAILABLE"));
    answer = ownFiles;
    expect(await access.check(userCtx("a"), "a-1", ["read"], "0")).toEqual([true]);
  });

  it("last as long as the latest caller's deadline, and link checks go together as this service", async () => {
    answer = ownFiles;
    seen.length = 0;
    const before = Date.now();
    await Promise.all([
      access.check(userCtx("a", 300), "a-1", ["read"], "0"),
      access.check(userCtx("a", 4_000), "a-2", ["read"], "0"),
    ]);
    expect(seen).toHaveLength(1);
    // The later deadline (capped by the 2 s client timeout), not the first caller's 300 ms.
    expect(seen[0]!.deadline - before).toBeGreaterThan(1500);
    expect(Date.now() - before).toBeLessThan(1000);

    answer = (req) => ({ allowed: req.items.map((i) => i.subject === "link:L2"), revision: "9" });
    seen.length = 0;
    const links = await Promise.all([
      access.checkLink(ctx(), "L1", "F1", "read", "0"),
      access.checkLink(ctx(), "L2", "F1", "read", "7"),
    ]);
    expect(links).toEqual([false, true]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.req.items.map((i) => i.subject)).toEqual(["link:L1", "link:L2"]);
    expect(seen[0]!.md.get("authorization")).toEqual([]);
  });
});

describe("shared writes (new files' tuples)", () => {
  const tuples = (file: string, n = 2) =>
    Array.from({ length: n }, (_, i) => ({
      operation: 1,
      relation: { object: `file:${file}`, relation: i === 0 ? "owner" : "parent", subject: `user:u${i}` },
    }));

  it("asked during one turn: one WriteRelations with every caller's tuples, as this service; each gets its revision", async () => {
    writes.length = 0;
    const revisions = await Promise.all([
      access.writeShared(tuples("A"), ctx()),
      access.writeShared(tuples("B"), ctx()),
      access.writeShared(tuples("C"), ctx()),
    ]);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.updates.map((u) => u.relation!.object)).toEqual([
      "file:A",
      "file:A",
      "file:B",
      "file:B",
      "file:C",
      "file:C",
    ]);
    expect(writes[0]!.forget).toEqual([]);
    expect(revisions).toEqual(["5", "5", "5"]);
    // No one caller's request id on a write made for three (its grant events are no one's).
    expect(writeIds.at(-1)).not.toBe("r1");
    // Later checks read at least that revision (read-your-writes).
    expect(access.lastRevision()).toBe("5");
    // Asked in separate turns: separate writes.
    expect(await access.writeShared(tuples("D"), ctx())).toBe("6");
    expect(writes).toHaveLength(2);
    expect(writeIds.at(-1)).toBe("r1");
  });

  it("never more than 500 updates in one write; a failure fails every caller of that write with UNAVAILABLE", async () => {
    writes.length = 0;
    const many = Array.from({ length: 300 }, (_, i) => access.writeShared(tuples(`M${i}`), ctx()));
    const revisions = await Promise.all(many);
    expect(writes.map((w) => w.updates.length)).toEqual([500, 100]);
    expect(new Set(revisions)).toEqual(new Set(["5", "6"]));
    writeFails = true;
    try {
      writes.length = 0;
      const outcomes = await Promise.all(
        ["X", "Y"].map((f) => refusal(access.writeShared(tuples(f), ctx()))),
      );
      expect(outcomes).toEqual(Array(2).fill("UNAVAILABLE PERMISSION_UNAVAILABLE"));
      expect(writes).toHaveLength(1);
    } finally {
      writeFails = false;
    }
  });
});
