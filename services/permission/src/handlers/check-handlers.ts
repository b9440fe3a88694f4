// Check, CheckBatch and ListAccessible: answered from the local index only (after the
// freshness and min_revision gate), never from the network.
import type { permissionv1 } from "@filemesh/contracts";
import { type CallContext, invalidArgument, type PageTokens, pageSize } from "@filemesh/kit";
import { PERMISSION_RANK, type Permission, RANK_ROLE } from "../domain/model.js";
import type { IndexSync } from "../sync/index-sync.js";
import {
  type CheckBatchAnswer,
  type CheckBatchQuestions,
  checkBatchAnswer,
  MAX_BATCH,
} from "./check-batch-wire.js";
import {
  fileRef,
  invalidPermission,
  invalidResource,
  permissionOf,
  readyToRead,
  subjectOf,
} from "./request.js";

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
  const answerCheck = (
    subject: string,
    resource: string,
    permission: Permission,
  ): permissionv1.CheckResponse => {
    const index = sync.index;
    return {
      allowed: index.check(subject, resource, permission, now()),
      revision: revisionString(index.revision),
    };
  };
  return {
    check(
      req: permissionv1.CheckRequest,
      ctx: CallContext,
    ): permissionv1.CheckResponse | Promise<permissionv1.CheckResponse> {
      const subject = subjectOf(req.subject, ctx);
      const resource = FILE_REF.test(req.resource) ? req.resource : fileRef(req.resource, "resource", true);
      const permission = permissionOf(req.permission, "permission");
      // min_revision already reached (or none): answered at once, no promise at all.
      if (reached(req.minRevision)) return answerCheck(subject, resource, permission);
      return readyToRead(sync, req.minRevision, ctx).then(() => answerCheck(subject, resource, permission));
    },

    /**
     * The request comes decoded by check-batch-wire.ts (flat arrays, no object per item) and
     * the answer goes out in the wire form it was written in, once.
     */
    async checkBatch(q: CheckBatchQuestions, ctx: CallContext): Promise<CheckBatchAnswer> {
      const n = q.count;
      if (n > MAX_BATCH) {
        throw invalidArgument("TOO_MANY_ITEMS", `at most ${MAX_BATCH} checks per batch`, [
          { field: "items", description: `more than ${MAX_BATCH}` },
        ]);
      }
      // Every item is checked before any is answered (one bad item fails the whole batch), in
      // item order, each item's subject, resource, then permission; a subject repeated from
      // the item before (the usual batch: one subject, many files) only once.
      const { subjects, resources, ranks } = q;
      let lastSubject: string | undefined;
      for (let i = 0; i < n; i++) {
        const subject = subjects[i]!;
        if (subject !== lastSubject) {
          subjectOf(subject, ctx, `items[${i}].subject`);
          lastSubject = subject;
        }
        if (resources[i] === "") throw invalidResource(`items[${i}].resource`);
        if (ranks[i] === 0) throw invalidPermission(`items[${i}].permission`);
      }
      if (!reached(q.minRevision)) await readyToRead(sync, q.minRevision, ctx);
      const index = sync.index;
      const at = now();
      const answer = checkBatchAnswer(n, index.revision);
      const { wire, at: base } = answer;
      const caller = ctx.principal?.subject ?? "";
      for (let i = 0; i < n; i++) {
        const need = ranks[i]!;
        // An empty subject is the caller (subjectOf checked that it may be).
        if (index.rankOn(subjects[i] || caller, resources[i]!, at, need) >= need) wire[base + i] = 1;
      }
      return answer;
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
