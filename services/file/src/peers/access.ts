// Every access decision goes to the permission service: CheckBatch as the calling user (the
// user's own token is forwarded; the permission service lets users ask only about
// themselves), and WriteRelations (internal) for parent tuples and owner grants. Anything but
// a clear answer fails closed: UNAVAILABLE, never an allow.
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import {
  type CallContext,
  createClient,
  decodeServiceError,
  serviceIdentity,
  unary,
  unavailable,
} from "@filemesh/kit";
import type { ServiceError } from "@grpc/grpc-js";
import type { FileConfig } from "../config.js";

export type Permission = "read" | "write" | "share" | "delete";
export type RelationUpdate = permissionv1.RelationUpdate;

export interface Access {
  /** For each permission, whether the calling user holds it on `file:<fileId>`. */
  check(ctx: CallContext, fileId: string, permissions: Permission[], minRevision: string): Promise<boolean[]>;
  /** For each file, whether the calling user holds `permission` on it (up to 1,000). */
  checkMany(ctx: CallContext, fileIds: string[], permission: Permission): Promise<boolean[]>;
  /** Applies tuple changes; returns the revision that reflects them. */
  write(updates: RelationUpdate[], ctx: CallContext): Promise<string>;
  /** The highest revision this process wrote (read-your-writes on later checks). */
  lastRevision(): string;
  close(): void;
}

const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;
const CHUNK = 500;

export const maxRevision = (...r: string[]): string =>
  r.reduce((a, b) => (BigInt(b || "0") > BigInt(a || "0") ? b : a), "0");

/** Tuples of a new file or folder: its parent edge (none for a home folder) and its owner. */
export function newFileTuples(fileId: string, parentId: string | null, ownerId: string): RelationUpdate[] {
  const out: RelationUpdate[] = [
    {
      operation: TOUCH,
      relation: { object: `file:${fileId}`, relation: "owner", subject: `user:${ownerId}` },
    },
  ];
  if (parentId) {
    out.push({
      operation: TOUCH,
      relation: { object: `file:${fileId}`, relation: "parent", subject: `file:${parentId}` },
    });
  }
  return out;
}

export const parentTuple = (fileId: string, parentId: string, op: "touch" | "delete"): RelationUpdate => ({
  operation: op === "touch" ? TOUCH : DELETE,
  relation: { object: `file:${fileId}`, relation: "parent", subject: `file:${parentId}` },
});

export const ownerTuple = (fileId: string, ownerId: string, op: "touch" | "delete"): RelationUpdate => ({
  operation: op === "touch" ? TOUCH : DELETE,
  relation: { object: `file:${fileId}`, relation: "owner", subject: `user:${ownerId}` },
});

export const linkTuple = (
  fileId: string,
  linkId: string,
  role: string,
  op: "touch" | "delete",
  expireTime?: Date,
): RelationUpdate => ({
  operation: op === "touch" ? TOUCH : DELETE,
  relation: { object: `file:${fileId}`, relation: role, subject: `link:${linkId}`, expireTime },
});

export function createAccess(config: FileConfig): Access {
  const tls = config.tlsClients
    ? { caFile: config.tlsClientCaFile, certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
    : undefined;
  const client = createClient(permissionv1.PermissionServiceClient, { addrs: config.permissionAddrs, tls });
  const identity = serviceIdentity("file", config);
  let last = "0";
  const down = (ctx: CallContext, what: string, err: unknown) => {
    const e = decodeServiceError(err as ServiceError);
    ctx.log.warn({ code: e.code, reason: e.reason, message: e.message }, `${what} failed`);
    return unavailable("PERMISSION_UNAVAILABLE", "cannot decide access right now; retry", 1000);
  };
  async function batch(
    ctx: CallContext,
    items: { fileId: string; permission: Permission }[],
    minRevision: string,
  ): Promise<boolean[]> {
    const subject = ctx.principal?.subject ?? "";
    if (!ctx.principal?.userId) return items.map(() => false);
    if (items.length === 0) return [];
    let res: permissionv1.CheckBatchResponse;
    try {
      res = await unary(
        client,
        client.checkBatch,
        {
          items: items.map((i) => ({ subject, resource: `file:${i.fileId}`, permission: i.permission })),
          minRevision: maxRevision(minRevision, last),
        },
        { ctx, timeoutMs: Math.min(config.clientTimeoutMs, 5_000), forwardAuthorization: true },
      );
    } catch (err) {
      throw down(ctx, "CheckBatch", err);
    }
    // A malformed answer (wrong length, non-boolean) is a deny.
    if (res.allowed.length !== items.length) throw down(ctx, "CheckBatch", new Error("bad answer"));
    return res.allowed.map((a) => a === true);
  }
  return {
    async check(ctx, fileId, permissions, minRevision) {
      return batch(
        ctx,
        permissions.map((permission) => ({ fileId, permission })),
        minRevision,
      );
    },
    async checkMany(ctx, fileIds, permission) {
      return batch(
        ctx,
        fileIds.map((fileId) => ({ fileId, permission })),
        "0",
      );
    },
    async write(updates, ctx) {
      let revision = "0";
      for (let i = 0; i < updates.length; i += CHUNK) {
        try {
          const res = await unary(
            client,
            client.writeRelations,
            { updates: updates.slice(i, i + CHUNK), requestId: randomUUID() },
            { ctx, timeoutMs: config.clientTimeoutMs, metadata: identity },
          );
          revision = res.revision;
        } catch (err) {
          throw down(ctx, "WriteRelations", err);
        }
      }
      last = maxRevision(last, revision);
      return revision;
    },
    lastRevision: () => last,
    close: () => client.close(),
  };
}
