// Check, CheckBatch and ListAccessible: answered from the local index only (after the
// freshness and min_revision gate), never from the network.
import type { permissionv1 } from "@filemesh/contracts";
import { type CallContext, invalidArgument, type PageTokens, pageSize } from "@filemesh/kit";
import { PERMISSION_RANK, RANK_ROLE } from "../domain/model.js";
import type { IndexSync } from "../sync/index-sync.js";
import { fileRef, permissionOf, readyToRead, subjectOf } from "./request.js";

export const MAX_BATCH = 1000;

export function createCheckHandlers(deps: { sync: IndexSync; pageTokens: PageTokens; now?: () => number }) {
  const { sync, pageTokens } = deps;
  const now = deps.now ?? Date.now;
  return {
    async check(req: permissionv1.CheckRequest, ctx: CallContext): Promise<permissionv1.CheckResponse> {
      const subject = subjectOf(req.subject, ctx);
      const resource = fileRef(req.resource, "resource", true);
      const permission = permissionOf(req.permission, "permission");
      await readyToRead(sync, req.minRevision, ctx);
      const index = sync.index;
      return {
        allowed: index.check(subject, resource, permission, now()),
        revision: String(index.revision),
      };
    },

    async checkBatch(
      req: permissionv1.CheckBatchRequest,
      ctx: CallContext,
    ): Promise<permissionv1.CheckBatchResponse> {
      if (req.items.length > MAX_BATCH) {
        throw invalidArgument("TOO_MANY_ITEMS", `at most ${MAX_BATCH} checks per batch`, [
          { field: "items", description: `more than ${MAX_BATCH}` },
        ]);
      }
      const items = req.items.map((it, i) => ({
        subject: subjectOf(it.subject, ctx, `items[${i}].subject`),
        resource: fileRef(it.resource, `items[${i}].resource`, true),
        permission: permissionOf(it.permission, `items[${i}].permission`),
      }));
      await readyToRead(sync, req.minRevision, ctx);
      const index = sync.index;
      const at = now();
      return {
        allowed: items.map((it) => index.check(it.subject, it.resource, it.permission, at)),
        revision: String(index.revision),
      };
    },

    async listAccessible(
      req: permissionv1.ListAccessibleRequest,
      ctx: CallContext,
    ): Promise<permissionv1.ListAccessibleResponse> {
      const subject = subjectOf(req.subject, ctx);
      const permission = permissionOf(req.permission, "permission", "read");
      const size = pageSize(req.pageSize);
      // Bound to the caller and to the question (subject, permission): see kit paging.
      const binding = {
        list: "ListAccessible",
        caller: ctx.principal!.subject,
        filter: [subject, permission],
      };
      const after = pageTokens.read(req.pageToken, binding)[0] ?? "";
      await readyToRead(sync, req.minRevision, ctx);
      const index = sync.index;
      const page = index.accessible(subject, PERMISSION_RANK[permission], now(), after, size + 1);
      const more = page.length > size;
      const shown = more ? page.slice(0, size) : page;
      return {
        resources: shown.map((r) => ({ resource: r.resource, role: RANK_ROLE[r.rank] ?? "" })),
        nextPageToken: more ? pageTokens.issue(binding, [shown[shown.length - 1]!.resource]) : "",
        revision: String(index.revision),
      };
    },
  };
}
