// `upload`: files and folder trees into a remote folder, a few files at a time, each through
// a native STREAM upload session (CreateUpload, then WriteUpload from the committed offset).
// The session of every local file in flight is kept in uploads.json, so running the same
// command again after an interruption asks the server how much it stored (GetUpload) and sends
// only the rest.
import { randomUUID } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { status } from "@grpc/grpc-js";
import { readJson, uploadsFile, withLock, writeJson } from "./config.js";
import { isServiceError, reasonOf } from "./errors.js";
import { sha256Of } from "./hash.js";
import type { File, Resolver } from "./paths.js";
import type { Bar, Progress } from "./progress.js";
import type { Session } from "./session.js";

export interface LocalItem {
  local: string;
  size: number;
  mtimeMs: number;
  /** Folders below the destination, e.g. ["photos", "2024"]. */
  dirs: string[];
  name: string;
}

export interface Uploaded {
  local: string;
  path: string;
  file: File;
  /** The server's committed offset this run started from (0 for a fresh upload). */
  resumedFrom: number;
  /** Bytes this run sent. */
  sentBytes: number;
}

/** Files (and the folders to create) below each argument, a folder keeping its own name. */
export function collect(args: string[]): { items: LocalItem[]; folders: string[][] } {
  const items: LocalItem[] = [];
  const folders: string[][] = [];
  const walk = (abs: string, dirs: string[]) => {
    const st = statSync(abs);
    if (st.isDirectory()) {
      const here = [...dirs, basename(abs)];
      folders.push(here);
      for (const e of readdirSync(abs).sort()) walk(join(abs, e), here);
    } else if (st.isFile()) {
      items.push({ local: abs, size: st.size, mtimeMs: st.mtimeMs, dirs, name: basename(abs) });
    }
  };
  for (const a of args) walk(resolve(a), []);
  return { items, folders };
}

interface Saved {
  uploadId: string;
  sha256: string;
}

export interface UploadDeps {
  session: Session;
  resolver: Resolver;
  dir: string;
  progress: Progress;
  signal: AbortSignal;
  /** Bytes per second for each file (0 = unlimited). */
  limitRate: number;
}

const CHUNK = 256 << 10;
const RETRIES = 5;

export async function uploadOne(
  d: UploadDeps,
  item: LocalItem,
  parent: File,
  remotePath: string,
): Promise<Uploaded> {
  const key = JSON.stringify([item.local, item.size, item.mtimeMs, parent.id, item.name]);
  const stateFile = uploadsFile(d.dir);
  const saved = readJson<Record<string, Saved>>(stateFile)?.[key];
  const files = d.session.clients.files;
  let upload: filev1.Upload | undefined;
  if (saved) {
    try {
      const res = await d.session.call<filev1.GetUploadResponse>((md, o, cb) =>
        files.getUpload({ uploadId: saved.uploadId }, md, o, cb),
      );
      upload = res.upload;
    } catch (err) {
      if (!isServiceError(err) || err.code !== status.NOT_FOUND) throw err;
    }
    if (upload?.state === filev1.UploadState.UPLOAD_STATE_COMPLETED) {
      const file = (
        await d.session.call<filev1.GetFileResponse>((md, o, cb) =>
          files.getFile({ fileId: upload!.fileId }, md, o, cb),
        )
      ).file!;
      await forget(d.dir, key);
      return { local: item.local, path: remotePath, file, resumedFrom: item.size, sentBytes: 0 };
    }
    if (upload?.state !== filev1.UploadState.UPLOAD_STATE_ACTIVE) upload = undefined;
  }
  if (!upload) {
    const sha256 = await sha256Of(item.local);
    const res = await d.session.call<filev1.CreateUploadResponse>((md, o, cb) =>
      files.createUpload(
        {
          parentId: parent.id,
          name: item.name,
          sizeBytes: String(item.size),
          sha256,
          method: filev1.UploadMethod.UPLOAD_METHOD_STREAM,
          partSizeBytes: "0",
          requestId: randomUUID(),
        },
        md,
        o,
        cb,
      ),
    );
    upload = res.upload!;
    await withLock(d.dir, "uploads", async () => {
      const all = readJson<Record<string, Saved>>(stateFile) ?? {};
      all[key] = { uploadId: upload!.id, sha256 };
      writeJson(stateFile, all);
    });
  }
  const resumedFrom = Number(upload.committedSizeBytes);
  const bar = d.progress.bar(remotePath, item.size, resumedFrom);
  let committed = resumedFrom;
  let sent = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await writeFrom(d, upload.id, item, committed, bar, (n) => {
        sent += n;
      });
      bar.finish();
      await forget(d.dir, key);
      return { local: item.local, path: remotePath, file: res.file!, resumedFrom, sentBytes: sent };
    } catch (err) {
      if (d.signal.aborted || !isServiceError(err) || attempt >= RETRIES || !retryable(err)) throw err;
      if (err.code === status.UNAUTHENTICATED) await d.session.refresh();
      await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      const res = await d.session.call<filev1.GetUploadResponse>((md, o, cb) =>
        files.getUpload({ uploadId: upload!.id }, md, o, cb),
      );
      committed = Number(res.upload!.committedSizeBytes);
      bar.set(committed);
    }
  }
}

function retryable(err: { code: number; metadata: import("@grpc/grpc-js").Metadata }): boolean {
  if (
    [status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.UNAUTHENTICATED, status.INTERNAL].includes(err.code)
  )
    return true;
  return ["WRONG_OFFSET", "CONCURRENT_WRITE"].includes(reasonOf(err as never));
}

async function forget(dir: string, key: string): Promise<void> {
  await withLock(dir, "uploads", async () => {
    const all = readJson<Record<string, Saved>>(uploadsFile(dir)) ?? {};
    if (!(key in all)) return;
    delete all[key];
    writeJson(uploadsFile(dir), all);
  });
}

/** One WriteUpload stream: bytes [from, size) of the local file, finishing the file. */
async function writeFrom(
  d: UploadDeps,
  uploadId: string,
  item: LocalItem,
  from: number,
  bar: Bar,
  onSent: (n: number) => void,
): Promise<filev1.WriteUploadResponse> {
  const md = await d.session.metadata();
  let settle!: (v: filev1.WriteUploadResponse) => void;
  let fail!: (e: unknown) => void;
  const result = new Promise<filev1.WriteUploadResponse>((res, rej) => {
    settle = res;
    fail = rej;
  });
  const call = d.session.clients.files.writeUpload(md, {}, (err, res) => (err ? fail(err) : settle(res)));
  const cancel = () => call.cancel();
  d.signal.addEventListener("abort", cancel, { once: true });
  const ended = result.then(
    () => true,
    () => true,
  );
  try {
    const started = Date.now();
    let off = from;
    let first = true;
    const send = async (data: Buffer, finishWrite: boolean) => {
      const msg: filev1.WriteUploadRequest = first
        ? { uploadId, writeOffset: String(from), data, finishWrite }
        : { uploadId: "", writeOffset: "0", data, finishWrite };
      first = false;
      if (!call.write(msg)) await Promise.race([new Promise((r) => call.once("drain", r)), ended]);
    };
    if (from < item.size) {
      const stream = createReadStream(item.local, { start: from, highWaterMark: CHUNK });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (d.signal.aborted) break;
        off += chunk.length;
        await send(chunk, off >= item.size);
        onSent(chunk.length);
        bar.set(off);
        if (d.limitRate > 0) {
          const ahead = ((off - from) / d.limitRate) * 1000 - (Date.now() - started);
          if (ahead > 0) await Promise.race([new Promise((r) => setTimeout(r, ahead)), ended]);
        }
      }
      if (off < item.size && !d.signal.aborted) throw new Error(`${item.local} changed while uploading`);
    } else {
      await send(Buffer.alloc(0), true); // nothing left (or an empty file): just commit
    }
    call.end();
    return await result;
  } finally {
    d.signal.removeEventListener("abort", cancel);
  }
}
