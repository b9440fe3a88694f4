// The file service's domain events (subjects filemesh.files.*), written to files.outbox in the
// transaction of the change they describe.
import { eventsv1 } from "@filemesh/contracts";
import { type CallContext, eventMetaFromCall, makeEvent, type OutboxEvent } from "@filemesh/kit";

type Ctx = Pick<CallContext, "requestId" | "traceparent" | "principal">;

const meta = (ctx: Ctx, fileId: string) => eventMetaFromCall(ctx, `file:${fileId}`);

type Codec<T> = { encode(m: T): { finish(): Uint8Array } };
const ev = <T extends { meta?: { eventId: string; traceparent: string } | undefined }>(
  name: string,
  type: string,
  codec: Codec<T>,
  msg: T,
): OutboxEvent => makeEvent(`filemesh.files.${name}`, `filemesh.events.v1.${type}`, codec, msg);

export const fileEvents = {
  uploaded: (ctx: Ctx, e: Omit<eventsv1.FileUploaded, "meta">) =>
    ev("file_uploaded", "FileUploaded", eventsv1.FileUploaded, { meta: meta(ctx, e.fileId), ...e }),
  updated: (ctx: Ctx, fileId: string, fields: string[]) =>
    ev("file_updated", "FileUpdated", eventsv1.FileUpdated, { meta: meta(ctx, fileId), fileId, fields }),
  moved: (ctx: Ctx, fileId: string, fromParentId: string, toParentId: string) =>
    ev("file_moved", "FileMoved", eventsv1.FileMoved, {
      meta: meta(ctx, fileId),
      fileId,
      fromParentId,
      toParentId,
    }),
  trashed: (ctx: Ctx, fileId: string) =>
    ev("file_trashed", "FileTrashed", eventsv1.FileTrashed, { meta: meta(ctx, fileId), fileId }),
  restored: (ctx: Ctx, fileId: string) =>
    ev("file_restored", "FileRestored", eventsv1.FileRestored, { meta: meta(ctx, fileId), fileId }),
  deleted: (ctx: Ctx, fileId: string, freedBytes: string) =>
    ev("file_deleted", "FileDeleted", eventsv1.FileDeleted, { meta: meta(ctx, fileId), fileId, freedBytes }),
  linkCreated: (ctx: Ctx, fileId: string, linkId: string, role: string) =>
    ev("link_created", "LinkCreated", eventsv1.LinkCreated, {
      meta: meta(ctx, fileId),
      fileId,
      linkId,
      role,
    }),
  versionAdded: (ctx: Ctx, fileId: string, versionId: string) =>
    ev("version_added", "VersionAdded", eventsv1.VersionAdded, {
      meta: meta(ctx, fileId),
      fileId,
      versionId,
    }),
  stateChanged: (ctx: Ctx, fileId: string, versionId: string, state: string, reason: string) =>
    ev("file_state_changed", "FileStateChanged", eventsv1.FileStateChanged, {
      meta: meta(ctx, fileId),
      fileId,
      versionId,
      state,
      reason,
    }),
};
