// Share links: create (role, expiry, optional password, download limit; the token is shown
// once), list, delete — for callers with `share` — and the anonymous GetSharedLink and
// GetSharedLinkContent, which honour every one of those settings and then ask the permission
// service whether the link's subject `link:<id>` may read the file.
//
// Passwords: link-password.ts. Every served GetSharedLinkContent call is one download,
// whatever its range: the limit is taken atomically in Postgres before a byte is sent.
import { randomUUID } from "node:crypto";
import type { filev1 } from "@filemesh/contracts";
import {
  AppError,
  appendEvents,
  type CallContext,
  ChunkPool,
  Code,
  fingerprintOf,
  inTransaction,
  invalidArgument,
  notFound,
  oncePerRequestId,
  pageSize,
  permissionDenied,
} from "@filemesh/kit";
import { authorize, callerId } from "../domain/access.js";
import type { FileDeps } from "../domain/deps.js";
import { fileEvents } from "../domain/events.js";
import { createPasswordCheck, linkPassword, MAX_PASSWORD } from "../domain/link-password.js";
import { contentChunks, rangeOf, sendDownloadHeaders, servable } from "../domain/serve.js";
import { toFile } from "../domain/views.js";
import { linkTuple, maxRevision } from "../peers/access.js";
import { getFile } from "../store/files.js";
import {
  countDownload,
  deleteLink,
  getLink,
  hashPassword,
  insertLink,
  type LinkRow,
  linkByToken,
  linksOf,
  linkToken,
  setLinkRevision,
  tokenHash,
} from "../store/links.js";

const LINK_NOT_FOUND = () => notFound("LINK_NOT_FOUND", "no such share link");

export const toLink = (l: LinkRow, token = ""): filev1.ShareLink => ({
  id: l.id,
  token,
  role: l.role,
  expireTime: l.expire_time ?? undefined,
  maxDownloads: l.max_downloads,
  downloads: l.downloads,
  hasPassword: l.password_hash !== null,
  fileId: l.file_id,
  createTime: l.create_time,
  password: "",
});

export function createLinkHandlers(deps: FileDeps) {
  const { pool, access, pageTokens } = deps;
  const checkPassword = createPasswordCheck(deps);

  /**
   * The link behind a token, if it is live, its password matches, its file is live and the
   * permission service lets `link:<id>` read the file (at least at the revisions of the link's
   * tuple and of the file's own tuples): a grant revoked or expired there, or one that no
   * longer reaches the file, ends access like a deleted link. No answer is UNAVAILABLE.
   */
  async function open(token: string, password: string, ctx: CallContext) {
    const link = await linkByToken(pool, token);
    if (!link) throw LINK_NOT_FOUND();
    if (link.expire_time && link.expire_time.getTime() <= Date.now())
      throw notFound("LINK_EXPIRED", "this share link has expired");
    if (link.password_hash) {
      if (!password) throw permissionDenied("PASSWORD_REQUIRED", "this share link needs its password");
      await checkPassword({ ...link, password_hash: link.password_hash }, password, ctx);
    }
    const file = await getFile(pool, link.file_id);
    // A file whose content went missing from the store is served as if it were gone.
    if (!file || file.trash_time || file.missing_time) throw LINK_NOT_FOUND();
    const revision = maxRevision(link.acl_revision, file.acl_revision);
    if (!(await access.checkLink(ctx, link.id, file.id, "read", revision))) throw LINK_NOT_FOUND();
    return { link, file };
  }

  return {
    async createShareLink(
      req: filev1.CreateShareLinkRequest,
      ctx: CallContext,
    ): Promise<filev1.CreateShareLinkResponse> {
      const userId = callerId(ctx);
      const file = await authorize(deps, ctx, req.fileId, "share");
      const role = req.link?.role || "viewer";
      const bad = (field: string, description: string) =>
        invalidArgument("INVALID_LINK", `link.${field} ${description}`, [
          { field: `link.${field}`, description },
        ]);
      if (role !== "viewer" && role !== "editor") throw bad("role", "must be viewer or editor");
      const expire = req.link?.expireTime;
      if (expire && expire.getTime() <= Date.now()) throw bad("expire_time", "must be in the future");
      const maxDownloads = req.link?.maxDownloads ?? 0;
      if (maxDownloads < 0) throw bad("max_downloads", "must not be negative");
      const password = req.link?.password ?? "";
      if (password.length > MAX_PASSWORD) throw bad("password", "is too long");
      const token = linkToken(deps.linkTokenKey, req.requestId, userId, file.id);
      const passwordHash = password ? await hashPassword(password) : null;
      const fp = fingerprintOf(file.id, role, expire?.toISOString() ?? "", maxDownloads, password);
      const { id } = await inTransaction(pool, (tx) =>
        oncePerRequestId(
          tx,
          { schema: "files", ctx, requestId: req.requestId, fingerprint: fp },
          async () => {
            const row = await insertLink(tx, {
              id: randomUUID(),
              file_id: file.id,
              token_hash: tokenHash(token),
              role,
              expire_time: expire ?? null,
              max_downloads: maxDownloads,
              password_hash: passwordHash,
              creator: `user:${userId}`,
            });
            await appendEvents(tx, "files", [fileEvents.linkCreated(ctx, file.id, row.id, role)]);
            const revision = await access.write([linkTuple(file.id, row.id, role, "touch", expire)], ctx);
            await setLinkRevision(tx, row.id, revision);
            return row.id;
          },
        ),
      );
      const made = await getLink(pool, id);
      if (!made) throw LINK_NOT_FOUND();
      // A retry (same request_id) derives the same token: the first attempt's link opens with it.
      return { link: toLink(made, tokenHash(token).equals(made.token_hash) ? token : "") };
    },

    async listShareLinks(
      req: filev1.ListShareLinksRequest,
      ctx: CallContext,
    ): Promise<filev1.ListShareLinksResponse> {
      const file = await authorize(deps, ctx, req.fileId, "share");
      const size = pageSize(req.pageSize);
      const binding = { list: "ListShareLinks", caller: ctx.principal?.subject ?? "", filter: [file.id] };
      const rows = await linksOf(pool, file.id, pageTokens.read(req.pageToken, binding), size + 1);
      const more = rows.length > size;
      const page = more ? rows.slice(0, size) : rows;
      const last = page[page.length - 1];
      return {
        links: page.map((l) => toLink(l)),
        nextPageToken:
          more && last ? pageTokens.issue(binding, [last.create_time.toISOString(), last.id]) : "",
      };
    },

    async deleteShareLink(
      req: filev1.DeleteShareLinkRequest,
      ctx: CallContext,
    ): Promise<filev1.DeleteShareLinkResponse> {
      const file = await authorize(deps, ctx, req.fileId, "share");
      await inTransaction(pool, async (tx) => {
        const gone = await deleteLink(tx, file.id, req.linkId);
        if (!gone) throw LINK_NOT_FOUND();
        await access.write([linkTuple(file.id, gone.id, gone.role, "delete")], ctx);
      });
      return {};
    },

    async getSharedLink(
      req: filev1.GetSharedLinkRequest,
      ctx: CallContext,
    ): Promise<filev1.GetSharedLinkResponse> {
      const { link, file } = await open(req.token, linkPassword(ctx, req.password), ctx);
      // Anonymous holders see the file, not who owns it.
      return { link: toLink(link), file: { ...toFile(file), ownerId: "" } };
    },

    async *getSharedLinkContent(req: filev1.GetSharedLinkContentRequest, ctx: CallContext) {
      // Access is decided before a download is counted, so a refusal costs none.
      const { link, file } = await open(req.token, linkPassword(ctx, req.password), ctx);
      const v = await servable(deps, file, "");
      const range = rangeOf(req.offset, req.length, v.size_bytes);
      // Every call that is served counts one download, whatever its offset and length (a
      // range that would not count could fetch the whole file piece by piece). The count is
      // one conditional update, so parallel calls and other replicas cannot overshoot it.
      if (!(await countDownload(pool, link.id))) {
        throw new AppError(
          Code.RESOURCE_EXHAUSTED,
          "DOWNLOAD_LIMIT_REACHED",
          "this share link has no downloads left",
        );
      }
      sendDownloadHeaders(ctx, file.name, range);
      const chunks = new ChunkPool(deps.settings.downloadChunkBytes);
      let first = true;
      for await (const data of contentChunks(deps, v, range, chunks)) {
        if (ctx.signal.aborted) return;
        yield chunks.message({ contentType: first ? v.content_type : "", data, extensions: [] }, data);
        first = false;
      }
      if (first) yield { contentType: v.content_type, data: Buffer.alloc(0), extensions: [] };
    },
  };
}
