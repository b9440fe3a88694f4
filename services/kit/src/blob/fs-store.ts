// The `fs` driver: objects under <root>/objects/<key>, multipart parts under
// <root>/multipart/<upload id>/<part> beside a `key` file (the key it completes to, written
// when the upload is created: its time is the upload's). Every write goes to a temporary file
// first and is renamed into place, so a reader never sees half an object.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BlobBody,
  BlobNotFoundError,
  type BlobStore,
  type ByteRange,
  checkKey,
  exactly,
  isObjectKey,
  type ListedUpload,
  PresignUnsupportedError,
  type StoredPart,
  uploadAfter,
} from "./blob-store.js";

const UPLOAD_ID = /^[0-9a-f-]{36}$/;
const PART = /^\d{5}$/;
const HEX2 = /^[0-9a-f]{2}$/;

/** Entries of a directory, sorted; none when it does not exist. */
async function sortedEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === "ENOENT";

export function createFsStore(root: string): BlobStore {
  const objects = join(root, "objects");
  const multipart = join(root, "multipart");
  const tmp = join(root, "tmp");
  const objectPath = (key: string) => join(objects, checkKey(key));
  const uploadDir = (uploadId: string) => {
    if (!UPLOAD_ID.test(uploadId)) throw new Error("invalid multipart upload id");
    return join(multipart, uploadId);
  };
  const partPath = (uploadId: string, n: number) => {
    if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error("invalid part number");
    return join(uploadDir(uploadId), String(n).padStart(5, "0"));
  };

  // Object directories known to exist (the keys' <a>/<b> levels: at most 65,536), so that a
  // write does not make them again; a rename that finds one gone makes it again.
  const madeDirs = new Set<string>();
  async function renameInto(temp: string, dest: string): Promise<void> {
    const dir = dirname(dest);
    if (madeDirs.has(dir)) {
      try {
        await rename(temp, dest);
        return;
      } catch (err) {
        if (!isMissing(err)) throw err;
        madeDirs.delete(dir);
      }
    }
    await mkdir(dir, { recursive: true });
    if (dir.startsWith(objects) && madeDirs.size < 70_000) madeDirs.add(dir);
    await rename(temp, dest);
  }

  /**
   * Streams body into a temp file, then renames it to `dest`; returns its size, and its MD5
   * when `withMd5` (a part's ETag; a whole object has no use for it).
   */
  async function writeAtomically(
    dest: string,
    body: BlobBody,
    withMd5 = false,
  ): Promise<{ size: number; md5: string }> {
    const temp = join(tmp, randomUUID());
    const md5 = withMd5 ? createHash("md5") : undefined;
    let size = 0;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Uint8Array>) {
          for await (const chunk of source) {
            size += chunk.byteLength;
            md5?.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      await renameInto(temp, dest);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return { size, md5: md5?.digest("hex") ?? "" };
  }

  const store: BlobStore = {
    driver: "fs",
    presigns: false,
    minPartBytes: 1,
    async init() {
      await Promise.all([objects, multipart, tmp].map((d) => mkdir(d, { recursive: true })));
    },
    async put(key, body) {
      const { size } = await writeAtomically(objectPath(key), body);
      return { sizeBytes: size };
    },
    async get(key, range?: ByteRange) {
      const path = objectPath(key);
      try {
        await stat(path);
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(key);
        throw err;
      }
      const start = range?.offset ?? 0;
      if (range?.length === 0) return Readable.from([]);
      const end = range?.length !== undefined ? start + range.length - 1 : undefined;
      return createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
    },
    async stat(key) {
      try {
        return { sizeBytes: (await stat(objectPath(key))).size };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await rm(objectPath(key), { force: true });
    },
    async copy(fromKey, toKey) {
      const dest = objectPath(toKey);
      const temp = join(tmp, randomUUID());
      try {
        await copyFile(objectPath(fromKey), temp);
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(fromKey);
        throw err;
      }
      await renameInto(temp, dest);
    },
    async createMultipart(key) {
      checkKey(key);
      const id = randomUUID();
      await mkdir(uploadDir(id), { recursive: true });
      await writeFile(join(uploadDir(id), "key"), key);
      return id;
    },
    async putPart(_key, uploadId, partNumber, body, sizeBytes) {
      const dir = uploadDir(uploadId);
      try {
        await stat(dir);
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(`multipart ${uploadId}`);
        throw err;
      }
      const { size, md5 } = await writeAtomically(
        partPath(uploadId, partNumber),
        exactly(body, sizeBytes),
        true,
      );
      return { partNumber, etag: `"${md5}"`, sizeBytes: size };
    },
    async listParts(_key, uploadId) {
      let names: string[];
      try {
        names = (await readdir(uploadDir(uploadId))).filter((n) => PART.test(n)).sort();
      } catch (err) {
        if (isMissing(err)) throw new BlobNotFoundError(`multipart ${uploadId}`);
        throw err;
      }
      const parts: StoredPart[] = [];
      for (const name of names) {
        const n = Number(name);
        const path = partPath(uploadId, n);
        const md5 = createHash("md5");
        for await (const chunk of createReadStream(path)) md5.update(chunk as Buffer);
        parts.push({ partNumber: n, etag: `"${md5.digest("hex")}"`, sizeBytes: (await stat(path)).size });
      }
      return parts;
    },
    async completeMultipart(key, uploadId, parts) {
      const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
      async function* concat() {
        for (const p of sorted) yield* createReadStream(partPath(uploadId, p.partNumber));
      }
      await writeAtomically(objectPath(key), concat());
      await rm(uploadDir(uploadId), { recursive: true, force: true });
    },
    async abortMultipart(_key, uploadId) {
      await rm(uploadDir(uploadId), { recursive: true, force: true });
    },
    async *listObjects(o = {}) {
      const after = o.startAfter ?? "";
      // Keys are <a>/<b>/<id>: walking each level sorted lists them in key order.
      for (const a of await sortedEntries(objects)) {
        if (!HEX2.test(a) || a < after.slice(0, 2)) continue;
        for (const b of await sortedEntries(join(objects, a))) {
          if (!HEX2.test(b) || `${a}/${b}` < after.slice(0, 5)) continue;
          for (const id of await sortedEntries(join(objects, a, b))) {
            const key = `${a}/${b}/${id}`;
            if (key <= after || !isObjectKey(key)) continue;
            const st = await stat(join(objects, key)).catch((err: unknown) => {
              if (isMissing(err)) return undefined; // deleted meanwhile
              throw err;
            });
            if (st?.isFile()) yield { key, sizeBytes: st.size, modifiedTime: st.mtime };
          }
        }
      }
    },
    async *listMultipartUploads(o = {}) {
      const uploads: ListedUpload[] = [];
      for (const uploadId of await sortedEntries(multipart)) {
        if (!UPLOAD_ID.test(uploadId)) continue;
        const dir = join(multipart, uploadId);
        const keyFile = join(dir, "key");
        const [key, st] = await Promise.all([
          readFile(keyFile, "utf8").catch(() => ""),
          stat(keyFile).catch(() => stat(dir).catch(() => undefined)),
        ]);
        if (!st) continue; // completed or aborted meanwhile
        uploads.push({ key: isObjectKey(key) ? key : "", uploadId, initiatedTime: st.mtime });
      }
      uploads.sort((x, y) => (uploadAfter(x, y) ? 1 : -1));
      for (const u of uploads) if (uploadAfter(u, o.after)) yield u;
    },
    async presignGet() {
      throw new PresignUnsupportedError();
    },
    async presignPart() {
      throw new PresignUnsupportedError();
    },
  };
  return store;
}
