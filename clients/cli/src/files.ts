// ls, mkdir, mv, rm (to the trash), restore, usage.
import { basename, dirname } from "node:path/posix";
import { filev1 } from "@filemesh/contracts";
import type { Context } from "./context.js";
import { CliError, EXIT, usage } from "./errors.js";
import { type File, segments } from "./paths.js";
import { humanBytes } from "./progress.js";

export const view = (f: File, path?: string) => ({
  id: f.id,
  ...(path === undefined ? {} : { path }),
  name: f.name,
  kind: f.kind === filev1.FileKind.FOLDER ? "folder" : "file",
  sizeBytes: Number(f.sizeBytes),
  sha256: f.sha256,
  versionId: f.currentVersionId,
  state: filev1.fileStateToJSON(f.state),
  updateTime: f.updateTime?.toISOString(),
});

const isFolder = (f: File) => f.kind === filev1.FileKind.FOLDER;

export async function ls(c: Context, path = "/") {
  const r = c.resolver();
  const at = await r.resolve(path);
  const list = isFolder(at) ? await r.children(at.id) : [at];
  const lines = list.map((f) => {
    const size = isFolder(f) ? "-" : humanBytes(Number(f.sizeBytes));
    const when = f.updateTime?.toISOString().slice(0, 16).replace("T", " ") ?? "";
    return `${isFolder(f) ? "d" : "-"} ${size.padStart(10)}  ${when}  ${f.name}${isFolder(f) ? "/" : ""}`;
  });
  return { text: lines.join("\n"), json: { path, files: list.map((f) => view(f)) } };
}

export async function mkdir(c: Context, path: string) {
  if (!path) throw usage("mkdir needs a path");
  const f = await c.resolver().ensureFolder(path);
  return { text: `created ${path}`, json: view(f, path) };
}

export async function mv(c: Context, from: string, to: string) {
  if (!from || !to) throw usage("mv needs a source and a destination");
  const r = c.resolver();
  const src = await r.resolve(from);
  let parentId: string;
  let name: string;
  const existing = await r.resolve(to).catch((err) => {
    if (err instanceof CliError && err.reason === "PATH_NOT_FOUND") return undefined;
    throw err;
  });
  if (existing && isFolder(existing)) {
    parentId = existing.id; // into the folder, keeping the name
    name = src.name;
  } else if (existing) {
    throw new CliError(
      EXIT.CONFLICT,
      "NAME_CONFLICT",
      `${to} exists`,
      "remove it first or pick another name",
    );
  } else {
    const parent = await r.resolve(dirname(`/${segments(to).join("/")}`));
    if (!isFolder(parent))
      throw new CliError(EXIT.CONFLICT, "NOT_A_FOLDER", `${dirname(to)} is not a folder`);
    parentId = parent.id;
    name = basename(to);
  }
  const updateMask = [
    ...(parentId !== src.parentId ? ["parent_id"] : []),
    ...(name !== src.name ? ["name"] : []),
  ];
  if (updateMask.length === 0) return { text: "nothing to do", json: view(src) };
  const s = c.session();
  const res = await s.call<filev1.UpdateFileResponse>((md, o, cb) =>
    s.clients.files.updateFile(
      { fileId: src.id, file: filev1.File.fromPartial({ parentId, name }), updateMask },
      md,
      o,
      cb,
    ),
  );
  return { text: `moved ${from} → ${to}`, json: view(res.file!) };
}

export async function rm(c: Context, path: string) {
  if (!path) throw usage("rm needs a path");
  if (segments(path).length === 0 && !path.startsWith("id:"))
    throw usage("refusing to remove your home folder");
  const f = await c.resolver().resolve(path);
  const s = c.session();
  await s.call<filev1.DeleteFileResponse>((md, o, cb) =>
    s.clients.files.deleteFile({ fileId: f.id, permanent: false, etag: "" }, md, o, cb),
  );
  return {
    text: `moved ${path} to the trash (filemesh restore ${path})`,
    json: { ...view(f, path), trashed: true },
  };
}

/** Finds path's item in the trash: same name, under the same (untrashed) parent when it resolves. */
export async function restore(c: Context, path: string) {
  if (!path) throw usage("restore needs a path");
  const s = c.session();
  const r = c.resolver();
  let target: File | undefined;
  if (path.startsWith("id:")) target = await r.getFile(path.slice(3));
  else {
    const name = basename(`/${segments(path).join("/")}`);
    const parent = await r.resolve(dirname(`/${segments(path).join("/")}`)).catch(() => undefined);
    let pageToken = "";
    do {
      const res = await s.call<filev1.ListTrashResponse>((md, o, cb) =>
        s.clients.files.listTrash({ pageSize: 1000, pageToken }, md, o, cb),
      );
      target = res.files.find((f) => f.name === name && (!parent || f.parentId === parent.id));
      pageToken = target ? "" : res.nextPageToken;
    } while (pageToken);
  }
  if (!target) {
    throw new CliError(
      EXIT.NOT_FOUND,
      "PATH_NOT_FOUND",
      `${path} is not in the trash`,
      "list it with `filemesh ls` or check the name",
    );
  }
  const res = await s.call<filev1.RestoreFileResponse>((md, o, cb) =>
    s.clients.files.restoreFile({ fileId: target!.id }, md, o, cb),
  );
  return { text: `restored ${path}`, json: view(res.file ?? target, path) };
}

export async function usageCmd(c: Context) {
  const s = c.session();
  const u = (await s.call<filev1.GetUsageResponse>((md, o, cb) => s.clients.files.getUsage({}, md, o, cb)))
    .usage!;
  const used = Number(u.usedBytes);
  const quota = Number(u.quotaBytes);
  const json = {
    usedBytes: used,
    reservedBytes: Number(u.reservedBytes),
    quotaBytes: quota,
    fileCount: Number(u.fileCount),
  };
  const pct = quota > 0 ? ` (${((used / quota) * 100).toFixed(1)}%)` : "";
  return {
    text: `${humanBytes(used)} of ${quota > 0 ? humanBytes(quota) : "unlimited"} used${pct}, ${json.fileCount} files, ${humanBytes(json.reservedBytes)} reserved by uploads in progress`,
    json,
  };
}
