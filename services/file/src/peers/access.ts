// Every access decision goes to the permission service: CheckBatch as the calling user (the
// user's own token is forwarded; the permission service lets users ask only about
// themselves), CheckBatch as this service about a share link's `link:<id>` subject (the
// anonymous link routes; the only subjects it may ask about as itself), and WriteRelations
// (internal) for parent tuples, owner and link grants, and to forget files deleted for good.
// Anything but a clear answer fails closed: UNAVAILABLE, never an allow.
//
// One-file checks are coalesced: the checks asked during one turn of the event loop with the
// same credentials (one user's token and principal; or this service's own, for links) go as
// one CheckBatch, at the highest revision any of them needs — a browser opening a folder of
// thumbnails asks once per turn, not once per file. Nothing crosses users: each user's
// checks go with that user's token, and each caller gets the answers to its own items.
import { randomUUID } from "node:crypto";
import { permissionv1 } from "@filemesh/contracts";
import {
  type CallContext,
  createPeer,
  decodeServiceError,
  peerOptions,
  principalHeader,
  serviceIdentity,
  turnBatch,
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
  /**
   * `write` of tuples that may share one WriteRelations with other callers' (a new file's or
   * folder's: fixed touches the file service itself decided). Those asked during one turn of
   * the event loop go together, up to 500 updates; each caller gets the revision of the whole.
   */
  writeShared(updates: RelationUpdate[], ctx: CallContext): Promise<string>;
  /** The highest revision this process wrote (read-your-writes on later checks). */
  lastRevision(): string;
  close(): void;
}

const { RELATION_OPERATION_TOUCH: TOUCH, RELATION_OPERATION_DELETE: DELETE } = permissionv1.RelationOperation;
const CHUNK = 500;
/** The most items one CheckBatch may carry (the permission service's limit). */
const MAX_BATCH = 1000;

/** One question: may `subject` do `permission` on `file:<fileId>`? */
interface Item {
  subject: string;
  fileId: string;
  permission: Permission;
}

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

/**
 * The context of one call made for several callers: the first caller's, lasting until the
 * latest deadline among them (one caller giving up does not fail the others).
 */
function lastingContext(ctxs: readonly CallContext[]): CallContext {
  const first = ctxs[0]!;
  let deadline = first.deadline;
  for (const c of ctxs) {
    deadline =
      deadline === undefined || c.deadline === undefined ? undefined : Math.max(deadline, c.deadline);
  }
  return {
    metadata: first.metadata,
    principal: first.principal,
    requestId: first.requestId,
    traceparent: first.traceparent,
    deadline,
    log: first.log,
  } as CallContext;
}

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
   * One CheckBatch: as the calling user (their token forwarded) or, for link subjects, as
   * this service (its identity, no user token).
   */
  async function batch(
    ctx: CallContext,
    asService: boolean,
    items: Item[],
    minRevision: string,
  ): Promise<boolean[]> {
    if (items.length === 0) return [];
    const min = maxRevision(minRevision, last);
    let res: permissionv1.CheckBatchResponse;
    try {
      res = await client.checkBatch(
        {
          items: items.map((i) => ({
            subject: i.subject,
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
          forwardAuthorization: !asService,
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

  // Coalesced one-file checks: one group per credentials, all sent once per turn of the loop.
  interface Asked {
    ctx: CallContext;
    items: Item[];
    minRevision: string;
    resolve(allowed: boolean[]): void;
    reject(err: unknown): void;
  }
  interface Group {
    asService: boolean;
    asked: Asked[];
    count: number;
  }
  let groups = new Map<string, Group>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const due = groups;
    groups = new Map();
    for (const g of due.values()) void send(g);
  };
  async function send(g: Group): Promise<void> {
    const { asked } = g;
    if (asked.length === 1) {
      const [a] = asked as [Asked];
      return batch(a.ctx, g.asService, a.items, a.minRevision).then(a.resolve, a.reject);
    }
    // The call carries the first caller's credentials (the same for the whole group), request
    // id and trace.
    const ctx = lastingContext(asked.map((a) => a.ctx));
    let allowed: boolean[];
    try {
      allowed = await batch(
        ctx,
        g.asService,
        asked.flatMap((a) => a.items),
        maxRevision(...asked.map((a) => a.minRevision)),
      );
    } catch (err) {
      for (const a of asked) a.reject(err);
      return;
    }
    let at = 0;
    for (const a of asked) {
      a.resolve(allowed.slice(at, at + a.items.length));
      at += a.items.length;
    }
  }
  function coalesced(
    key: string,
    asService: boolean,
    ctx: CallContext,
    items: Item[],
    minRevision: string,
  ): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      let g = groups.get(key);
      if (g && g.count + items.length > MAX_BATCH) {
        groups.delete(key);
        void send(g);
        g = undefined;
      }
      if (!g) {
        g = { asService, asked: [], count: 0 };
        groups.set(key, g);
      }
      g.asked.push({ ctx, items, minRevision, resolve, reject });
      g.count += items.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  }
  // Shared writes: every caller's tuples asked during one turn, as one WriteRelations with the
  // file service's own identity.
  interface SharedWrite {
    ctx: CallContext;
    updates: RelationUpdate[];
    resolve(revision: string): void;
    reject(err: unknown): void;
  }
  const shareWrite = turnBatch<SharedWrite>(
    (due) => {
      // One caller's write carries its request id and trace; a write for several carries
      // neither (the grant events it makes are no one caller's).
      const ctx = lastingContext(due.map((w) => w.ctx));
      if (due.length > 1) Object.assign(ctx, { requestId: "", traceparent: undefined });
      writeNow(
        due.flatMap((w) => w.updates),
        ctx,
        [],
      ).then(
        (revision) => {
          for (const w of due) w.resolve(revision);
        },
        (err: unknown) => {
          for (const w of due) w.reject(err);
        },
      );
    },
    CHUNK,
    (w) => w.updates.length,
  );

  /** The credentials a check as the caller goes with: the user's token and verified principal. */
  const callerKey = (ctx: CallContext) => {
    const auth = ctx.metadata.get("authorization")[0];
    return `user\n${typeof auth === "string" ? auth : ""}\n${principalHeader(ctx.principal!) ?? ""}`;
  };

  return {
    async check(ctx, fileId, permissions, minRevision) {
      if (!ctx.principal?.userId) return permissions.map(() => false);
      const subject = ctx.principal.subject;
      return coalesced(
        callerKey(ctx),
        false,
        ctx,
        permissions.map((permission) => ({ subject, fileId, permission })),
        minRevision,
      );
    },
    async checkMany(ctx, fileIds, permission) {
      if (!ctx.principal?.userId) return fileIds.map(() => false);
      const subject = ctx.principal.subject;
      return batch(
        ctx,
        false,
        fileIds.map((fileId) => ({ subject, fileId, permission })),
        "0",
      );
    },
    async checkLink(ctx, linkId, fileId, permission, minRevision) {
      const item = { subject: `link:${linkId}`, fileId, permission };
      const [allowed] = await coalesced("service", true, ctx, [item], minRevision);
      return allowed === true;
    },
    write: (updates, ctx, forget = []) => writeNow(updates, ctx, forget),
    writeShared: (updates, ctx) =>
      new Promise((resolve, reject) => shareWrite({ ctx, updates, resolve, reject })),
    lastRevision: () => last,
    close: () => client.close(),
  };

  async function writeNow(updates: RelationUpdate[], ctx: CallContext, forget: string[]): Promise<string> {
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
  }
}
