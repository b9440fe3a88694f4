// Request parsing shared by the handlers: the subject a read is about, resources, permissions,
// revisions, page sizes and page tokens. Malformed input is INVALID_ARGUMENT, never a guess.
import {
  type CallContext,
  callerPrincipal,
  failedPrecondition,
  invalidArgument,
  permissionDenied,
  unavailable,
} from "@filemesh/kit";
import { isPermission, type Permission } from "../domain/model.js";
import { isCheckSubject, isRefOf, parseRef, type RefType } from "../domain/refs.js";
import type { IndexSync } from "../sync/index-sync.js";

/**
 * The subjects each mesh service may ask about when it calls as itself (the method policy's
 * service_callers decides who may call at all): the file service decides its anonymous
 * share-link routes by asking about `link:<id>`; it asks about users with their own token.
 */
const SERVICE_SUBJECTS: Record<string, readonly RefType[]> = { "service:file": ["link"] };

/**
 * The subject a read asks about. Empty means the caller. End users may only ask about
 * themselves (a denial must not leak who else has access), admins about anyone, a mesh
 * service only about the subject types of SERVICE_SUBJECTS.
 */
export function subjectOf(requested: string, ctx: CallContext, field = "subject"): string {
  const p = callerPrincipal(ctx);
  if (!requested) {
    if (!p.userId)
      throw invalidArgument("SUBJECT_REQUIRED", "subject is required", [{ field, description: "required" }]);
    return p.subject;
  }
  if (!isCheckSubject(requested)) {
    throw invalidArgument("INVALID_SUBJECT", 'subject must be "user:<id>", "group:<id>" or "link:<id>"', [
      { field, description: "malformed subject" },
    ]);
  }
  if (p.userId) {
    if (requested !== p.subject && !p.admin) {
      throw permissionDenied("SUBJECT_NOT_CALLER", "you can only ask about your own access");
    }
    return requested;
  }
  const type = parseRef(requested)?.type;
  if (!type || !SERVICE_SUBJECTS[p.subject]?.includes(type)) {
    throw permissionDenied("SUBJECT_NOT_ALLOWED", `${p.subject} may not ask about ${type} subjects`);
  }
  return requested;
}

export function fileRef(value: string, field: string, prefixed: boolean): string {
  const ref = prefixed ? value : `file:${value}`;
  if (!isRefOf(ref, "file")) throw invalidResource(field);
  return ref;
}

export const invalidResource = (field: string) =>
  invalidArgument("INVALID_RESOURCE", `${field} must name a file`, [{ field, description: "malformed" }]);

export function permissionOf(value: string, field: string, fallback?: Permission): Permission {
  if (!value && fallback) return fallback;
  if (!isPermission(value)) throw invalidPermission(field);
  return value;
}

export const invalidPermission = (field: string) =>
  invalidArgument("INVALID_PERMISSION", "permission must be read, write, share or delete", [
    { field, description: "unknown permission" },
  ]);

export function revisionOf(value: string, field: string): number {
  const n = value ? Number(value) : 0;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw invalidArgument("INVALID_REVISION", `${field} must be a revision`, [
      { field, description: "malformed" },
    ]);
  }
  return n;
}

/**
 * Fails closed unless the index is fresh and has reached `minRevision` (waiting for it up to
 * the configured bound or the call's deadline). A revision the cluster has not issued is
 * refused (FAILED_PRECONDITION) rather than waited for: far beyond the last known head at
 * once, otherwise after one head read shared with every other waiter.
 */
export async function readyToRead(sync: IndexSync, minRevision: string, ctx: CallContext): Promise<void> {
  if (!sync.fresh()) throw unavailable("INDEX_STALE", "the permission index is not current; retry", 500);
  const min = revisionOf(minRevision, "min_revision");
  if (min <= sync.index.revision) return;
  const result = await sync.waitFor(min, ctx.deadline ?? Number.POSITIVE_INFINITY);
  if (result === "future") {
    throw failedPrecondition(
      "REVISION_FROM_THE_FUTURE",
      `min_revision ${min} has not been issued; pass a revision a write returned`,
    );
  }
  if (result === "timeout") {
    throw unavailable("REVISION_NOT_REACHED", `revision ${min} is not available here yet; retry`, 200);
  }
}
