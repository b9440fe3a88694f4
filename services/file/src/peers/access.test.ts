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

let server: Server;
let access: Access;
let answer: Answer = { allowed: [true], revision: "7" };
const seen: { req: permissionv1.CheckBatchRequest; md: Metadata }[] = [];

beforeAll(async () => {
  server = new Server();
  const no = (_c: unknown, cb: (e: Partial<ServiceError>) => void) => cb({ code: status.UNIMPLEMENTED });
  const checkBatch: permissionv1.PermissionServiceServer["checkBatch"] = (call, cb) => {
    seen.push({ req: call.request, md: call.metadata });
    if ("code" in answer) cb(answer);
    else cb(null, answer);
  };
  const writeRelations: permissionv1.PermissionServiceServer["writeRelations"] = (_call, cb) =>
    cb(null, { revision: "5" });
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
