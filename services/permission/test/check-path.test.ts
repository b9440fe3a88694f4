// The Check/CheckBatch hot path (issue 14) on the real index, without the network: a batch
// answers exactly what one Check per item answers (2-hop: user → nested group → folder →
// file), validates every item before answering any, and a min_revision already reached
// (or none) never waits: no call reaches the sync's wait. CheckBatch goes through its wire
// codec (check-batch-wire.ts) as a call does.
import { permissionv1 } from "@filemesh/contracts";
import type { CallContext, PageTokens } from "@filemesh/kit";
import { decodeServiceError } from "@filemesh/kit";
import { describe, expect, it } from "vitest";
import { decodeCheckBatchRequest } from "../src/handlers/check-batch-wire.js";
import { createCheckHandlers } from "../src/handlers/check-handlers.js";
import { createAclIndex } from "../src/index/acl-index.js";
import type { IndexSync } from "../src/sync/index-sync.js";

function setup() {
  const index = createAclIndex();
  const t = (object: string, relation: string, subject: string) =>
    index.apply("touch", { object, relation, subject, expireAt: 0 });
  // u1 ∈ g-inner ∈ g-outer; g-outer is viewer of folder d1; f1, f2 in d1; f3 elsewhere.
  t("group:g-inner", "member", "user:u1");
  t("group:g-outer", "member", "group:g-inner");
  t("file:d1", "viewer", "group:g-outer");
  t("file:f1", "parent", "file:d1");
  t("file:f2", "parent", "file:d1");
  t("file:f3", "parent", "file:d2");
  t("file:f2", "editor", "user:u1");
  index.revision = 42;
  let waits = 0;
  const sync = {
    index,
    fresh: () => true,
    waitFor: async () => {
      waits++;
      return "reached" as const;
    },
  } as unknown as IndexSync;
  const handlers = createCheckHandlers({ sync, pageTokens: {} as PageTokens });
  const ctx = { principal: { subject: "user:u1", userId: "u1" } } as CallContext;
  // CheckBatch from the generated request to the generated response, through the bytes.
  const checkBatch = async (req: permissionv1.CheckBatchRequest, c: CallContext) => {
    const bytes = Buffer.from(permissionv1.CheckBatchRequest.encode(req).finish());
    const answer = await handlers.checkBatch(decodeCheckBatchRequest(bytes), c);
    return permissionv1.CheckBatchResponse.decode(answer.wire);
  };
  return { handlers, checkBatch, ctx, waits: () => waits, index };
}

describe("Check and CheckBatch on the index", () => {
  it("answer the 2-hop check alike, one item or a thousand", async () => {
    const { handlers, checkBatch, ctx } = setup();
    const asks: [string, string][] = [
      ["file:f1", "read"],
      ["file:f1", "write"],
      ["file:f2", "write"],
      ["file:f2", "delete"],
      ["file:f3", "read"],
      ["file:nothing", "read"],
    ];
    const one: boolean[] = [];
    for (const [resource, permission] of asks) {
      one.push((await handlers.check({ subject: "", resource, permission, minRevision: "" }, ctx)).allowed);
    }
    expect(one).toEqual([true, false, true, false, false, false]);
    const items = Array.from({ length: 1000 }, (_, i) => {
      const [resource, permission] = asks[i % asks.length]!;
      return { subject: i % 2 ? "user:u1" : "", resource, permission };
    });
    const res = await checkBatch({ items, minRevision: "42" }, ctx);
    expect(res.revision).toBe("42");
    expect(res.allowed).toEqual(items.map((_, i) => one[i % asks.length]));
  });

  it("refuse the whole batch on one bad item, another user's subject included", async () => {
    const { checkBatch, ctx } = setup();
    const good = { subject: "", resource: "file:f1", permission: "read" };
    const reason = async (bad: object) => {
      try {
        await checkBatch({ items: [good, good, { ...good, ...bad }], minRevision: "" }, ctx);
      } catch (err) {
        return decodeServiceError(err as never).reason || (err as { reason?: string }).reason;
      }
      return "PASSED";
    };
    expect(await reason({ resource: "folder:x" })).toBe("INVALID_RESOURCE");
    expect(await reason({ permission: "own" })).toBe("INVALID_PERMISSION");
    expect(await reason({ subject: "user:u2" })).toBe("SUBJECT_NOT_CALLER");
    expect(await reason({ subject: "nobody" })).toBe("INVALID_SUBJECT");
  });

  it("take no wait for a min_revision already reached, and wait for one ahead", async () => {
    const { handlers, checkBatch, ctx, waits, index } = setup();
    for (const minRevision of ["", "0", "1", "42"]) {
      await handlers.check({ subject: "", resource: "file:f1", permission: "read", minRevision }, ctx);
      await checkBatch(
        { items: [{ subject: "", resource: "file:f1", permission: "read" }], minRevision },
        ctx,
      );
    }
    expect(waits()).toBe(0);
    await handlers.check({ subject: "", resource: "file:f1", permission: "read", minRevision: "43" }, ctx);
    expect(waits()).toBe(1);
    index.revision = 43;
    await handlers.check({ subject: "", resource: "file:f1", permission: "read", minRevision: "43" }, ctx);
    expect(waits()).toBe(1);
  });
});
