// Check, CheckBatch and ListAccessible: answered from the local index only (after the
// freshness and min_revision gate), never from the network.
import type { permissionv1 } from "@filemesh/contracts";
import { type CallContext, invalidArgument, type PageTokens, pageSize } from "@filemesh/kit";
import { isPermission, PERMISSION_RANK, type Permission, RANK_ROLE } from "../domain/model.js";
import type { IndexSync } from "../sync/index-sync.js";
import { fileRef, permissionOf, readyToRead, subjectOf } from "./request.js";

export const MAX_BATCH = 1000;

/** A well-formed file ref (domain/refs.ts REF for type file), tested without a match object. */
const FILE_REF = /^file:[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DIGITS = /^\d+$/;

export function createCheckHandlers(deps: { sync: IndexSync; pageTokens: PageTokens; now?: () => number }) {
  const { sync, pageTokens } = deps;
  const now = deps.now ?? Date.now;
  /** True when the index is fresh and already at `minRevision` (or none is asked): nothing to wait for. */
  const reached = (minRevision: string): boolean => {
    if (!sync.fresh()) return false;
    if (minRevision === "" || minRevision === "0") return true;
    const min = Number(minRevision);
    return Number.isSafeInteger(min) && min >= 0 && min <= sync.index.revision && DIGITS.test(minRevision);
  };
  // The revision's decimal string, made once per revision rather than once per call.
  let shownRevision = -1;
  let shownString = "0";
  const revisionString = (r: number): string => {
    if (r !== shownRevision) {
      shownRevision = r;
      shownString = String(r);
    }
    return shownString;
  };
  return {
    async check(req: permissionv1.CheckRequest, ctx: CallContext): Promise<permissionv1.CheckResponse> {
      const subject = subjectOf(req.subject, ctx);
      const resource = FILE_REF.test(req.resource) ? req.resource : fileRef(req.resource, "resource", true);
      const permission = permissionOf(req.permission, "permission");
      // min_revision already reached (or none): no wait, no promise beyond the handler's own.
      if (!reached(req.minRevision)) await readyToRead(sync, req.minRevision, ctx);
      const index = sync.index;
      return {
        allowed: index.check(subject, resource, permission, now()),
        revision: revisionString(index.revision),
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
      // Every item is checked before any is answered (one bad item fails the whole batch),
      // without an object per item: the items are validated in place, a subject repeated
      // from the item before (the usual batch: one subject, many files) only once.
      const items = req.items;
      const n = items.length;
      let lastSubject: string | undefined;
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        if (it.subject !== lastSubject) {
          subjectOf(it.subject, ctx, `items[${i}].subject`);
          lastSubject = it.subject;
        }
        if (!FILE_REF.test(it.resource)) fileRef(it.resource, `items[${i}].resource`, true);
        if (!isPermission(it.permission)) permissionOf(it.permission, `items[${i}].permission`);
      }
      if (!reached(req.minRevision)) await readyToRead(sync, req.minRevision, ctx);
      const index = sync.index;
      const at = now();
      const allowed = new Array<boolean>(n);
      const caller = ctx.principal?.subject ?? "";
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        // An empty subject is the caller (subjectOf checked that it may be).
        const subject = it.subject || caller;
        allowed[i] = index.check(subject, it.resource, it.permission as Permission, at);
      }
      return { allowed, revision: revisionString(index.revision) };
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
