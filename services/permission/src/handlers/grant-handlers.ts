// Grants on files, for end users: CreateGrant, ListGrants, DeleteGrant. The caller needs
// `share` (editor or owner) on the file, directly, through a group or an ancestor folder; only
// owners make owners or touch an owner's grant; nobody changes their own role; the last owner
// grant of a file stays. A denial is the same whether or not the file exists.
import { permissionv1 } from "@filemesh/contracts";
import {
  type CallContext,
  callerUserId,
  failedPrecondition,
  fingerprintOf,
  invalidArgument,
  notFound,
  type PageTokens,
  pageSize,
  permissionDenied,
} from "@filemesh/kit";
import type pg from "pg";
import { isRole, PERMISSION_RANK, ROLE_RANK, tupleKey } from "../domain/model.js";
import { isRefOf } from "../domain/refs.js";
import { isLive } from "../index/acl-index.js";
import { countOwners, findGrantRow, type GrantRow, listGrantRows } from "../store/tuple-reads.js";
import type { IndexSync } from "../sync/index-sync.js";
import type { Writer } from "../write/writer.js";
import { fileRef, readyToRead } from "./request.js";

const OWNER = ROLE_RANK.owner;

export function createGrantHandlers(deps: {
  sync: IndexSync;
  pool: pg.Pool;
  write: Writer;
  pageTokens: PageTokens;
  now?: () => number;
}) {
  const { sync, write, pageTokens } = deps;
  const now = deps.now ?? Date.now;
  const callerOf = (ctx: CallContext) => `user:${callerUserId(ctx)}`;
  /** The caller's rank on the file; PERMISSION_DENIED below `share`. */
  const mustShare = (caller: string, resource: string) => {
    const rank = sync.index.rankOn(caller, resource, now());
    if (rank < PERMISSION_RANK.share) {
      throw permissionDenied("ACCESS_DENIED", "you cannot manage access to this file");
    }
    return rank;
  };
  const event = (ctx: CallContext) => ({
    actor: ctx.principal?.subject ?? "anonymous",
    requestId: ctx.requestId,
    traceparent: ctx.traceparent,
  });

  return {
    async createGrant(
      req: permissionv1.CreateGrantRequest,
      ctx: CallContext,
    ): Promise<permissionv1.CreateGrantResponse> {
      const caller = callerOf(ctx);
      const resource = fileRef(req.fileId, "file_id", false);
      const g = req.grant;
      const subject = g?.subject ?? "";
      const role = g?.role ?? "";
      const expireAt = g?.expireTime?.getTime() ?? 0;
      const violations = [];
      if (!isRefOf(subject, "user", "group"))
        violations.push({ field: "grant.subject", description: "a user or group" });
      if (!isRole(role)) violations.push({ field: "grant.role", description: "viewer, editor or owner" });
      if (expireAt && !(expireAt > now()))
        violations.push({ field: "grant.expire_time", description: "must be in the future" });
      if (violations.length) throw invalidArgument("INVALID_GRANT", "invalid grant", violations);
      await readyToRead(sync, "", ctx);
      return write<permissionv1.CreateGrantResponse>({
        caller,
        requestId: req.requestId,
        fingerprint: fingerprintOf(resource, subject, role, expireAt),
        event: event(ctx),
        signal: ctx.signal,
        deadline: ctx.deadline,
        plan: async () => {
          const rank = mustShare(caller, resource);
          if (subject === caller) throw permissionDenied("OWN_ROLE", "you cannot change your own role");
          const existing = sync.index.direct(resource, subject);
          if (rank < OWNER && (role === "owner" || (existing?.rank === OWNER && isLive(existing, now())))) {
            throw permissionDenied("OWNER_REQUIRED", "only owners can grant or change the owner role");
          }
          return [{ op: "touch", tuple: { object: resource, relation: role, subject, expireAt } }];
        },
        respond: (revision, _effective, state) => {
          const row = state.rows.get(tupleKey({ object: resource, relation: role, subject }));
          return {
            grant: {
              id: row?.id ?? "",
              resource,
              subject,
              role,
              ...(expireAt ? { expireTime: new Date(expireAt) } : {}),
              revision: String(revision),
              createTime: row?.createTime ?? new Date(),
              creator: row?.inDb ? row.creator : caller,
            },
          };
        },
        encode: (r) => permissionv1.CreateGrantResponse.encode(r).finish(),
        decode: (b) => permissionv1.CreateGrantResponse.decode(b),
      });
    },

    async listGrants(
      req: permissionv1.ListGrantsRequest,
      ctx: CallContext,
    ): Promise<permissionv1.ListGrantsResponse> {
      const caller = callerOf(ctx);
      const resource = fileRef(req.fileId, "file_id", false);
      const size = pageSize(req.pageSize);
      const binding = { list: "ListGrants", caller, filter: [resource] };
      const after = pageTokens.read(req.pageToken, binding)[0] ?? "";
      await readyToRead(sync, req.minRevision, ctx);
      mustShare(caller, resource);
      const rows = await listGrantRows(deps.pool, resource, after, size + 1);
      const more = rows.length > size;
      const shown = more ? rows.slice(0, size) : rows;
      return {
        grants: shown.map(grantOf),
        nextPageToken: more ? pageTokens.issue(binding, [shown[shown.length - 1]!.subject]) : "",
      };
    },

    async deleteGrant(
      req: permissionv1.DeleteGrantRequest,
      ctx: CallContext,
    ): Promise<permissionv1.DeleteGrantResponse> {
      const caller = callerOf(ctx);
      const resource = fileRef(req.fileId, "file_id", false);
      await readyToRead(sync, "", ctx);
      // A retry whose first attempt committed (its answer lost on the way) answers what that one
      // did rather than GRANT_NOT_FOUND: the delete is its own request id, per caller, file and
      // grant (grant ids are never reused; Postgres reads them in either case).
      const key = fingerprintOf("DeleteGrant", resource, req.grantId.toLowerCase());
      return write({
        caller,
        requestId: `delete-grant:${key}`,
        fingerprint: key,
        event: event(ctx),
        signal: ctx.signal,
        deadline: ctx.deadline,
        plan: async (tx) => {
          const rank = mustShare(caller, resource);
          const row = await findGrantRow(tx, req.grantId);
          if (!row || row.resource !== resource)
            throw notFound("GRANT_NOT_FOUND", "no such grant on this file");
          const live = !row.expireTime || row.expireTime.getTime() > now();
          if (row.role === "owner" && rank < OWNER) {
            throw permissionDenied("OWNER_REQUIRED", "only owners can remove an owner");
          }
          if (row.role === "owner" && live && (await countOwners(tx, resource)) <= 1) {
            throw failedPrecondition("LAST_OWNER", "a file keeps at least one owner");
          }
          const expireAt = row.expireTime?.getTime() ?? 0;
          return [
            { op: "delete", tuple: { object: resource, relation: row.role, subject: row.subject, expireAt } },
          ];
        },
        respond: (revision) => ({ revision: String(revision) }),
        encode: (r) => permissionv1.DeleteGrantResponse.encode(r).finish(),
        decode: (b) => permissionv1.DeleteGrantResponse.decode(b),
      });
    },
  };
}

function grantOf(r: GrantRow): permissionv1.Grant {
  return {
    id: r.id,
    resource: r.resource,
    subject: r.subject,
    role: r.role,
    ...(r.expireTime ? { expireTime: r.expireTime } : {}),
    revision: r.revision,
    createTime: r.createTime,
    creator: r.creator,
  };
}
