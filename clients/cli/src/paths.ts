// Remote paths: `/reports/q3.pdf` (or `reports/q3.pdf`) is walked from the caller's home
// folder one ListFiles page at a time by name; `id:<file id>` names any file the caller may
// read (e.g. one shared with them, which is not in their home tree).
import { filev1, type userv1 } from "@filemesh/contracts";
import { CliError, EXIT } from "./errors.js";
import type { Session } from "./session.js";

export type File = filev1.File;

export function segments(path: string): string[] {
  return path.split("/").filter((s) => s !== "" && s !== ".");
}

export function createResolver(s: Session) {
  let home: Promise<File> | undefined;

  const getFile = async (fileId: string) =>
    (await s.call<filev1.GetFileResponse>((md, o, cb) => s.clients.files.getFile({ fileId }, md, o, cb)))
      .file!;

  function homeFolder(): Promise<File> {
    home ??= s
      .call<userv1.GetMeResponse>((md, o, cb) => s.clients.users.getMe({}, md, o, cb))
      .then((r) => getFile(r.user!.homeFolderId));
    return home;
  }

  async function children(parentId: string): Promise<File[]> {
    const out: File[] = [];
    let pageToken = "";
    do {
      const res = await s.call<filev1.ListFilesResponse>((md, o, cb) =>
        s.clients.files.listFiles({ parentId, pageSize: 1000, pageToken, orderBy: 0 }, md, o, cb),
      );
      out.push(...res.files);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return out;
  }

  async function child(parentId: string, name: string): Promise<File | undefined> {
    return (await children(parentId)).find((f) => f.name === name);
  }

  /** The file or folder at path; PATH_NOT_FOUND (exit 4) naming the first missing segment. */
  async function resolve(path: string): Promise<File> {
    if (path.startsWith("id:")) return getFile(path.slice(3));
    let at = await homeFolder();
    const walked: string[] = [];
    for (const name of segments(path)) {
      walked.push(name);
      const next = await child(at.id, name);
      if (!next)
        throw new CliError(
          EXIT.NOT_FOUND,
          "PATH_NOT_FOUND",
          `/${walked.join("/")} does not exist`,
          "check the path with `filemesh ls`",
        );
      at = next;
    }
    return at;
  }

  /** The folder at path, creating missing folders (like mkdir -p). */
  async function ensureFolder(path: string): Promise<File> {
    let at = path.startsWith("id:") ? await getFile(path.slice(3)) : await homeFolder();
    for (const name of path.startsWith("id:") ? [] : segments(path)) at = await ensureChild(at.id, name);
    return at;
  }

  async function ensureChild(parentId: string, name: string): Promise<File> {
    const found = await child(parentId, name);
    if (found) {
      if (found.kind !== filev1.FileKind.FOLDER) {
        throw new CliError(EXIT.CONFLICT, "NOT_A_FOLDER", `${name} exists and is not a folder`);
      }
      return found;
    }
    const res = await s.call<filev1.CreateFolderResponse>((md, o, cb) =>
      s.clients.files.createFolder({ parentId, name, requestId: "" }, md, o, cb),
    );
    return res.file!;
  }

  return { homeFolder, children, child, resolve, ensureFolder, ensureChild, getFile };
}

export type Resolver = ReturnType<typeof createResolver>;
