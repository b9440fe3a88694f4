// ReconcileObjects, one bounded step of a walk over the blob store, in two phases:
//  1. objects and version rows side by side in key order (the store lists bytewise, the rows
//     are read COLLATE "C"): an object no version (object or thumbnail) and no live upload
//     session uses is removed; a version whose object is not there (confirmed by a stat) is
//     marked missing, and a marked one whose object is back is cleared;
//  2. multipart uploads in progress: one no live session uses is aborted.
// Nothing stored, started or committed at or after the cut-off is touched (an upload may be
// committing it). The cursor travels in a signed page token.
import type { CallContext } from "@filemesh/kit";
import { invalidPageToken } from "@filemesh/kit";
import type { ListedObject } from "@filemesh/kit/blob";
import { liveMultipartIds, referencedKeys, setMissing, versionsByKey } from "../store/janitor.js";
import type { FileDeps } from "./deps.js";

export interface ReconcileStep {
  removedObjects: number;
  abortedUploads: number;
  markedMissingRows: number;
  nextPageToken: string;
}

async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n <= 0) return out;
  for await (const x of it) {
    out.push(x);
    if (out.length >= n) break;
  }
  return out;
}

/** Phase 1 from `after` (exclusive); `upTo` is where it stopped (undefined: at the end). */
async function objectsStep(deps: FileDeps, ctx: CallContext, cutoff: Date, limit: number, after: string) {
  const { pool, blobs } = deps;
  let listed: ListedObject[] = await take(
    blobs.listObjects({ startAfter: after, pageSize: limit + 1 }),
    limit + 1,
  );
  let upTo = listed.length > limit ? listed[limit - 1]?.key : undefined;
  listed = listed.slice(0, limit);
  let rows = await versionsByKey(pool, after, upTo, limit + 1);
  if (rows.length > limit) {
    upTo = rows[limit - 1]?.object_key;
    rows = rows.slice(0, limit);
    listed = listed.filter((o) => upTo === undefined || o.key <= upTo);
  }
  const present = new Set(listed.map((o) => o.key));
  const rowKeys = new Set(rows.map((r) => r.object_key));

  const candidates = listed.filter((o) => !rowKeys.has(o.key) && o.modifiedTime < cutoff).map((o) => o.key);
  const used = await referencedKeys(pool, candidates);
  const removed: string[] = [];
  for (const key of candidates) {
    if (used.has(key)) continue;
    await blobs.delete(key);
    removed.push(key);
  }

  const gone: string[] = [];
  for (const r of rows) {
    if (present.has(r.object_key) || r.missing_time || r.create_time >= cutoff) continue;
    if (!(await blobs.stat(r.object_key))) gone.push(r.id);
  }
  const marked = await setMissing(pool, gone, true);
  const back = await setMissing(
    pool,
    rows.filter((r) => r.missing_time && present.has(r.object_key)).map((r) => r.id),
    false,
  );
  if (removed.length || marked.length || back.length) {
    ctx.log.info(
      { removedObjects: removed, markedMissingVersions: marked, contentBackVersions: back },
      "janitor: objects reconciled",
    );
  }
  return { removed: removed.length, marked: marked.length, upTo };
}

/** Phase 2 from `after` (exclusive); `last` is where it stopped (undefined: at the end). */
async function uploadsStep(
  deps: FileDeps,
  ctx: CallContext,
  cutoff: Date,
  limit: number,
  after: { key: string; uploadId: string } | undefined,
) {
  const listed = await take(deps.blobs.listMultipartUploads(after ? { after } : {}), limit + 1);
  const page = listed.slice(0, limit);
  const old = page.filter((u) => u.initiatedTime < cutoff);
  const live = await liveMultipartIds(
    deps.pool,
    old.map((u) => u.uploadId),
  );
  const aborted: string[] = [];
  for (const u of old) {
    if (live.has(u.uploadId)) continue;
    await deps.blobs.abortMultipart(u.key, u.uploadId);
    aborted.push(u.uploadId);
  }
  if (aborted.length) ctx.log.info({ abortedUploads: aborted }, "janitor: multipart uploads aborted");
  return { aborted: aborted.length, last: listed.length > limit ? page[page.length - 1] : undefined };
}

export async function reconcileStep(
  deps: FileDeps,
  ctx: CallContext,
  cutoff: Date,
  limit: number,
  pageToken: string,
): Promise<ReconcileStep> {
  const { pageTokens } = deps;
  // A walk's token is the calling service's (the processor's janitor) and this RPC's only.
  const binding = { list: "ReconcileObjects", caller: ctx.principal?.subject ?? "" };
  const cursor = pageTokens.read(pageToken, binding);
  const phase = cursor[0] ?? "objects";
  if (phase === "objects") {
    const r = await objectsStep(deps, ctx, cutoff, limit, cursor[1] ?? "");
    return {
      removedObjects: r.removed,
      abortedUploads: 0,
      markedMissingRows: r.marked,
      nextPageToken: pageTokens.issue(binding, r.upTo === undefined ? ["uploads"] : ["objects", r.upTo]),
    };
  }
  if (phase !== "uploads") throw invalidPageToken();
  const after = cursor.length === 3 ? { key: cursor[1] ?? "", uploadId: cursor[2] ?? "" } : undefined;
  const r = await uploadsStep(deps, ctx, cutoff, limit, after);
  return {
    removedObjects: 0,
    abortedUploads: r.aborted,
    markedMissingRows: 0,
    nextPageToken: r.last ? pageTokens.issue(binding, ["uploads", r.last.key, r.last.uploadId]) : "",
  };
}
