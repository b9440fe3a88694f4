// The upload queue: files (and folder trees) from the picker or a drop, at most three at a time.
// Files under SESSION_THRESHOLD go as one raw body (POST /v1/files:upload; pause aborts it and
// resume starts again). Larger ones go through an upload session in parts (POST /v1/uploads,
// PUT …/parts/{n} relayed by the gateway, POST …:complete): pause aborts the part in flight,
// resume and retry ask the session which parts it holds (GET /v1/uploads/{id}) and send only
// the missing ones, each part retried on a network error. The session id and the file's
// identity are kept in IndexedDB (pending.ts) until the session ends, so an upload cut off by a
// closed page is listed after the next sign-in and resumes once the same file is picked again.
import * as api from "./api.ts";
import { forgetPending, type Pending, pendingOf, remember } from "./pending.ts";

export const SESSION_THRESHOLD = 4 * 1024 * 1024;
export const PART_SIZE = 8 * 1024 * 1024;
const PART_RETRIES = 3;
const PARALLEL = 3;

export type Status = "queued" | "uploading" | "paused" | "interrupted" | "done" | "failed";

export interface UploadItem {
  key: string;
  /** Shown name: the path below the drop target for a folder's files. */
  name: string;
  /** The folder the upload starts from; `dirs` are created below it. */
  parentId: string;
  dirs: string[];
  file?: File;
  size: number;
  lastModified: number;
  sent: number;
  status: Status;
  error?: string;
  sessionId?: string;
  fileId?: string;
}

interface Running {
  xhr?: XMLHttpRequest;
  stop: boolean;
}

export class UploadManager {
  items: UploadItem[] = [];
  private running = new Map<string, Running>();
  private listeners = new Set<() => void>();
  private folders = new Map<string, Promise<string>>();
  private seq = 0;

  constructor(
    private readonly userId: string,
    /** A finished upload, and the folder it was dropped on (its tree may have grown). */
    private readonly onUploaded: (f: api.FileItem, target: string) => void,
  ) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    this.items = [...this.items];
    for (const fn of this.listeners) fn();
  }

  private patch(key: string, p: Partial<UploadItem>): void {
    this.items = this.items.map((u) => (u.key === key ? { ...u, ...p } : u));
    for (const fn of this.listeners) fn();
  }

  private get(key: string): UploadItem | undefined {
    return this.items.find((u) => u.key === key);
  }

  /** Queues files; `path` is the file's place below `parentId` ("a/b/c.txt" for folder drops). */
  add(entries: { file: File; path?: string }[], parentId: string): void {
    for (const { file, path } of entries) {
      const parts = (path || file.name).split("/").filter(Boolean);
      const name = parts.pop() || file.name;
      this.items.push({
        key: `u${++this.seq}`,
        name: [...parts, name].join("/"),
        parentId,
        dirs: parts,
        file,
        size: file.size,
        lastModified: file.lastModified,
        sent: 0,
        status: "queued",
      });
    }
    this.emit();
    this.pump();
  }

  /** Sessions left by an earlier page (closed mid-upload) that are still open on the server. */
  async restore(): Promise<void> {
    for (const p of await pendingOf(this.userId)) {
      if (this.items.some((u) => u.sessionId === p.sessionId)) continue;
      let s: api.UploadSession;
      try {
        s = await api.getUpload(p.sessionId);
      } catch {
        await forgetPending(p.sessionId);
        continue;
      }
      if (s.state !== "UPLOAD_STATE_ACTIVE") {
        await forgetPending(p.sessionId);
        continue;
      }
      this.items.push({
        key: `u${++this.seq}`,
        name: p.name,
        parentId: p.parentId,
        dirs: [],
        size: p.size,
        lastModified: p.lastModified,
        sent: sentOf(s),
        status: "interrupted",
        sessionId: p.sessionId,
      });
    }
    this.emit();
  }

  /** The file picked again for an interrupted upload: it must be the same (name, size, time). */
  attach(key: string, file: File): string | undefined {
    const u = this.get(key);
    if (!u) return "upload not found";
    const base = u.name.split("/").pop();
    if (
      file.name !== base ||
      file.size !== u.size ||
      (u.lastModified && file.lastModified !== u.lastModified)
    )
      return `That is not the same file: pick “${base}” (${u.size} bytes).`;
    this.patch(key, { file, status: "queued", error: undefined });
    this.pump();
    return undefined;
  }

  pause(key: string): void {
    const r = this.running.get(key);
    if (r) {
      r.stop = true;
      r.xhr?.abort();
    }
    const u = this.get(key);
    if (u && (u.status === "queued" || u.status === "uploading")) this.patch(key, { status: "paused" });
  }

  resume(key: string): void {
    const u = this.get(key);
    if (!u?.file || u.status === "done" || u.status === "uploading") return;
    this.patch(key, { status: "queued", error: undefined });
    this.pump();
  }

  async cancel(key: string): Promise<void> {
    this.pause(key);
    const u = this.get(key);
    if (!u) return;
    this.items = this.items.filter((x) => x.key !== key);
    this.emit();
    // A session left open would hold its reserved quota until it expires.
    if (u.sessionId && u.status !== "done") {
      await api.cancelUpload(u.sessionId).catch(() => {});
      await forgetPending(u.sessionId);
    }
  }

  clearFinished(): void {
    this.items = this.items.filter((u) => u.status !== "done");
    this.emit();
  }

  private pump(): void {
    const busy = this.items.filter((u) => u.status === "uploading").length;
    const next = this.items
      .filter((u) => u.status === "queued" && u.file)
      .slice(0, Math.max(0, PARALLEL - busy));
    for (const u of next) {
      const r: Running = { stop: false };
      this.running.set(u.key, r);
      this.patch(u.key, { status: "uploading", error: undefined });
      this.run(u.key, r)
        .then((f) => {
          this.patch(u.key, { status: "done", sent: u.size, fileId: f.id });
          this.onUploaded(f, u.parentId);
        })
        .catch((e: unknown) => {
          if (r.stop) return; // paused or cancelled: the status says so already
          this.patch(u.key, { status: "failed", error: describe(e) });
        })
        .finally(() => {
          this.running.delete(u.key);
          this.pump();
        });
    }
  }

  /** The folder `dirs` below `parentId`, created where missing (shared by a drop's files). */
  private folderFor(parentId: string, dirs: string[]): Promise<string> {
    let at = Promise.resolve(parentId);
    let path = parentId;
    for (const d of dirs) {
      path += `/${d}`;
      const key = path;
      let known = this.folders.get(key);
      if (!known) {
        known = at.then((parent) => ensureFolder(parent, d));
        known.catch(() => this.folders.delete(key));
        this.folders.set(key, known);
      }
      at = known;
    }
    return at;
  }

  private async run(key: string, r: Running): Promise<api.FileItem> {
    const u = this.get(key)!;
    const file = u.file!;
    const parentId = await this.folderFor(u.parentId, u.dirs);
    const name = u.name.split("/").pop()!;
    const register = (xhr: XMLHttpRequest) => {
      r.xhr = xhr;
    };
    if (!u.sessionId && file.size < SESSION_THRESHOLD) {
      return (await api.xhrSend(
        "POST",
        api.uploadRaw(parentId, name),
        file,
        (sent) => this.patch(key, { sent }),
        register,
      )) as api.FileItem;
    }

    let session: api.UploadSession;
    if (u.sessionId) session = await api.getUpload(u.sessionId);
    else {
      session = await api.createUpload(parentId, name, file.size, PART_SIZE);
      this.patch(key, { sessionId: session.id });
      const p: Pending = {
        sessionId: session.id,
        userId: this.userId,
        parentId,
        name,
        size: file.size,
        lastModified: file.lastModified,
        createdAt: Date.now(),
      };
      await remember(p);
    }
    if (session.state && session.state !== "UPLOAD_STATE_ACTIVE") {
      await forgetPending(session.id);
      throw new api.ApiError(
        `the upload session is ${session.state.replace("UPLOAD_STATE_", "").toLowerCase()}`,
        0,
        "SESSION_ENDED",
      );
    }
    const partSize = Number(session.partSizeBytes) || PART_SIZE;
    const count = session.partCount || Math.max(1, Math.ceil(file.size / partSize));
    const have = new Set((session.parts ?? []).map((p) => p.partNumber));
    let done = sentOf(session);
    this.patch(key, { sent: done });
    for (let n = 1; n <= count; n++) {
      if (have.has(n)) continue;
      const start = (n - 1) * partSize;
      const chunk = file.slice(start, Math.min(file.size, start + partSize));
      for (let attempt = 1; ; attempt++) {
        if (r.stop) throw new api.ApiError("paused", 0, "CANCELLED");
        try {
          await api.xhrSend(
            "PUT",
            api.partUrl(session.id, n),
            chunk,
            (sent) => this.patch(key, { sent: done + sent }),
            register,
          );
          break;
        } catch (e) {
          const again =
            e instanceof api.ApiError && (e.reason === "NETWORK" || e.reason === "RETRY" || e.status >= 500);
          if (r.stop || !again || attempt >= PART_RETRIES) throw e;
          await new Promise((res) => setTimeout(res, 500 * attempt));
        }
      }
      done += chunk.size;
      this.patch(key, { sent: done });
    }
    const f = await api.completeUpload(session.id);
    await forgetPending(session.id);
    return f;
  }
}

function sentOf(s: api.UploadSession): number {
  return (s.parts ?? []).reduce((n, p) => n + Number(p.sizeBytes ?? 0), 0);
}

/** A folder by name below `parent`: created, or the existing one when the name is taken. */
async function ensureFolder(parent: string, name: string): Promise<string> {
  try {
    return (await api.createFolder(parent, name)).id;
  } catch (e) {
    if (!(e instanceof api.ApiError) || e.status !== 409) throw e;
    let token = "";
    do {
      const page = await api.listFiles(parent, token, "FILE_ORDER_NAME", 100);
      const hit = page.files?.find((f) => f.name === name && f.kind === "FOLDER");
      if (hit) return hit.id;
      token = page.nextPageToken ?? "";
    } while (token);
    throw e;
  }
}

/** The API's message, with a plain sentence in front for the errors people act on. */
export function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof api.ApiError && e.reason === "QUOTA_EXCEEDED")
    return `Not enough storage left for this file: ${msg}`;
  return msg;
}

/** Files of a drop, folders walked through webkitGetAsEntry (paths kept for the tree). */
export async function droppedFiles(dt: DataTransfer): Promise<{ file: File; path?: string }[]> {
  const entries = Array.from(dt.items ?? [])
    .filter((i) => i.kind === "file")
    .map((i) => i.webkitGetAsEntry?.() ?? null);
  if (entries.length === 0 || entries.some((e) => e === null)) {
    return Array.from(dt.files).map((file) => ({ file }));
  }
  const out: { file: File; path?: string }[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      out.push({ file, path: prefix + file.name });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        // readEntries answers in batches (100 in Chromium) until an empty one.
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) if (e) await walk(e, "");
  return out;
}
