// Every access decision goes to the permission service: CheckBatch as the calling user (the
// user's own token is forwarded; the permission service lets users ask only about
// themselves), CheckBatch as this service about a share link's `link:<id>` subject (the
// anonymous link routes; the only subjects it may ask about as itself), and WriteRelations
// (internal) for parent tuples, owner and link grants, and to forget files deleted for good. Anything but a clear answer fails
// closed: UNAVAILABLE, never an allow.
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import {
  type CallContext,
  createPeer,
  decodeServiceError,
  peerOptions,
  serviceIdentity,
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
  /** Whether share link `linkId` holds `permission` on `file:<fileId>` (asked as this service). */
  checkLink(
    ctx: CallContext,
    linkId: string,
    fileId: string,
    permission: Permission,
    minRevision: string,
  ): Promise<boolean>;
  /**
   * Applies tuple changes and forgets the files in `forget` ("file:<id>", deleted for good:
   * every tuple naming one goes, whoever it grants); returns the revision that reflects them.
   */
  write(updates: RelationUpdate[], ctx: CallContext, forget?: string[]): Promise<string>;
  /** The highest revision this process wrote (read-your-writes on later checks). */
  lastRevision(): string;
  close(): void;
}

const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;
const CHUNK = 500;

export const maxRevision = (...r: string[]): string =>
  r.reduce((a, b) => (BigInt(b || "0") > BigInt(a || "0") ? b : a), "0");

/** Whether an answer's revision is a revision and not below `min`. */
const reaches = (revision: string, min: string): boolean =>
  /^\d{1,19}$/.test(revision) && BigInt(revision) >= BigInt(min || "0");

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
  const client = createPeer(
    permissionv1.PermissionServiceClient,
    peerOptions(config, config.permissionAddrs),
  );
  const identity = serviceIdentity("file", config);
  let last = "0";
  const down = (ctx: CallContext, what: string, err: unknown) => {
    const e = decodeServiceError(err as ServiceError);
    ctx.log.warn({ code: e.code, reason: e.reason, message: e.message }, `${what} failed`);
    return unavailable("PERMISSION_UNAVAILABLE", "cannot decide access right now; retry", 1000);
  };
  /**
   * CheckBatch about `subject`: as the calling user (their token forwarded) or, for a link
   * subject, as this service (its identity, no user token).
   */
  async function batch(
    ctx: CallContext,
    who: { subject: string; asService: boolean },
    items: { fileId: string; permission: Permission }[],
    minRevision: string,
  ): Promise<boolean[]> {
    if (items.length === 0) return [];
    const min = maxRevision(minRevision, last);
    let res: permissionv1.CheckBatchResponse;
    try {
      res = await client.checkBatch(
        {
          items: items.map((i) => ({
            subject: who.subject,
            resource: `file:${i.fileId}`,
            permission: i.permission,
          })),
          minRevision: min,
        },
        {
          ctx,
          timeoutMs: Math.min(config.clientTimeoutMs, 5_000),
          // As the user: their token and verified principal, with this service's identity so
          // the permission service takes the principal as forwarded (kit auth/forwarded.ts).
          metadata: identity,
          forwardAuthorization: !who.asService,
        },
      );
    } catch (err) {
      throw down(ctx, "CheckBatch", err);
    }
    // A malformed answer (wrong length, or from before the revision asked for) is no answer.
    if (res.allowed.length !== items.length || !reaches(res.revision, min)) {
      throw down(ctx, "CheckBatch", new Error("malformed answer"));
    }
    return res.allowed.map((a) => a === true);
  }
  const asCaller = (ctx: CallContext) => ({ subject: ctx.principal?.subject ?? "", asService: false });
  return {
    async check(ctx, fileId, permissions, minRevision) {
      if (!ctx.principal?.userId) return permissions.map(() => false);
      return batch(
        ctx,
        asCaller(ctx),
        permissions.map((permission) => ({ fileId, permission })),
        minRevision,
      );
    },
    async checkMany(ctx, fileIds, permission) {
      if (!ctx.principal?.userId) return fileIds.map(() => false);
      return batch(
        ctx,
        asCaller(ctx),
        fileIds.map((fileId) => ({ fileId, permission })),
        "0",
      );
    },
    async checkLink(ctx, linkId, fileId, permission, minRevision) {
      const [allowed] = await batch(
        ctx,
        { subject: `link:${linkId}`, asService: true },
        [{ fileId, permission }],
        minRevision,
      );
      return allowed === true;
    },
    async write(updates, ctx, forget = []) {
      let revision = "0";
      for (let i = 0; i < Math.max(updates.length, forget.length); i += CHUNK) {
        try {
          const res = await client.writeRelations(
            {
              updates: updates.slice(i, i + CHUNK),
              requestId: randomUUID(),
              forget: forget.slice(i, i + CHUNK),
              fencingToken: "0",
            },
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
