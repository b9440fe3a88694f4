// A mesh for file-service tests: auth, permission, user and file (fs driver on a temp dir, or
// s3 against a MinIO the test starts), with the helpers every file test uses. A test file calls
// `const t = useFileMesh({...})` once (or once per describe.each block): the mesh starts before
// its tests and stops after them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1, permissionv1 } from "@filemesh/contracts";
import {
  call,
  privateDatabase,
  startTestMinio,
  type TestMinio,
  testDatabaseUrl,
  uniqueId,
} from "@filemesh/kit/testing";
import {
  type ClientReadableStream,
  type ClientWritableStream,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { type ServiceName, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

export interface FileMeshOptions {
  driver?: "fs" | "s3";
  /** Extra env for the file service. */
  env?: Record<string, string>;
  /** File service replicas (default 1). */
  replicas?: number;
  services?: ServiceName[];
  /** The file service on a database of its own (for operations that act on every row there). */
  ownDatabase?: boolean;
}

export interface FileTestMesh {
  mesh: TestMesh;
  minio?: TestMinio;
  blobDir: string;
  f: filev1.FileServiceClient;
  /** A pool on the file service's database (its own with `ownDatabase`, else the shared one). */
  db: pg.Pool;
  /** A pool on the shared test database (the other services' tables). */
  sharedDb: pg.Pool;
  /** UploadFile with a raw body; the new file. */
  upload(
    h: Headers,
    name: string,
    data: Buffer | string,
    parentId?: string,
    sha256?: string,
  ): Promise<filev1.File>;
  /** CreateFolder; the new folder. */
  folder(h: Headers, name: string, parentId?: string, requestId?: string): Promise<filev1.File>;
  /** Grants `role` on a file to `subject` as the caller of `h` (PermissionService.CreateGrant). */
  grant(
    h: Headers,
    fileId: string,
    subject: string,
    role: string,
    expireTime?: Date,
  ): Promise<permissionv1.CreateGrantResponse>;
  /** CreateShareLink; the new link (with its token). */
  createLink(h: Headers, fileId: string, link?: Partial<filev1.ShareLink>): Promise<filev1.ShareLink>;
  stop(): Promise<void>;
}

/** Starts a file mesh before the tests of the current file (or describe block) and stops it after. */
export function useFileMesh(o: FileMeshOptions = {}): FileTestMesh {
  const t = {} as FileTestMesh;
  beforeAll(async () => {
    Object.assign(t, await startFileMesh(o));
  });
  afterAll(async () => {
    await t.stop?.();
  });
  return t;
}

export async function startFileMesh(o: FileMeshOptions = {}): Promise<FileTestMesh> {
  const blobDir = mkdtempSync(join(tmpdir(), "filemesh-file-"));
  const own = o.ownDatabase ? await privateDatabase() : undefined;
  let minio: TestMinio | undefined;
  let mesh: TestMesh;
  try {
    minio = o.driver === "s3" ? await startTestMinio() : undefined;
    const blobEnv = minio
      ? minio.env(uniqueId("files").toLowerCase())
      : { BLOB_DRIVER: "fs", BLOB_DIR: blobDir };
    mesh = await startTestMesh({
      services: o.services ?? ["auth", "permission", "user", "file"],
      replicas: { file: o.replicas ?? 1 },
      serviceEnv: { file: { ...blobEnv, ...(own ? { DATABASE_URL: own.url } : {}), ...o.env } },
    });
  } catch (err) {
    await minio?.stop();
    await own?.drop();
    throw err;
  }
  const sharedDb = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
  const db = own ? new pg.Pool({ connectionString: own.url, max: 4 }) : sharedDb;
  const f = mesh.file;
  return {
    mesh,
    ...(minio ? { minio } : {}),
    blobDir,
    f,
    db,
    sharedDb,
    upload: (h, name, data, parentId = "", sha256 = "") =>
      send(
        f,
        f.uploadFile,
        rawUpload(parentId, name, typeof data === "string" ? Buffer.from(data) : data, sha256),
        h,
      ).then((r) => (r as filev1.UploadFileResponse).file!),
    folder: (h, name, parentId = "", requestId = "") =>
      rpc(f, f.createFolder, { parentId, name, requestId }, h).then((r) => r.file!),
    grant: (h, fileId, subject, role, expireTime) => grantOn(mesh, h, fileId, subject, role, expireTime),
    createLink: (h, fileId, link = {}) =>
      rpc(f, f.createShareLink, filev1.CreateShareLinkRequest.fromPartial({ fileId, link }), h).then(
        (r) => r.link!,
      ),
    async stop() {
      await mesh.stop();
      await minio?.stop();
      await sharedDb.end();
      if (db !== sharedDb) await db.end();
      await own?.drop();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

type Headers = Record<string, string>;
type Fn<Req, Res> = Parameters<typeof call<Req, Res>>[0];

/** A unary call on the file client: `await rpc(f, f.getFile, { fileId }, user.headers)`. */
export function rpc<Req, Res>(
  client: object,
  fn: Fn<Req, Res>,
  req: Req,
  headers: Headers = {},
): Promise<Res> {
  return call(fn.bind(client) as Fn<Req, Res>, req, headers);
}

export function metadataOf(headers: Headers): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return md;
}

type StreamStart<Req, Res> = (
  md: Metadata,
  opts: { deadline: number },
  cb: (err: ServiceError | null, res?: Res) => void,
) => ClientWritableStream<Req>;

/** A client-streaming call that sends `msgs` and ends: `await send(f, f.uploadFile, msgs, headers)`. */
export function send<Req, Res>(
  client: object,
  start: StreamStart<Req, Res>,
  msgs: Req[],
  headers: Headers = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const stream = start.call(client, metadataOf(headers), { deadline: Date.now() + 60_000 }, (err, res) =>
      err ? reject(err) : resolve(res as Res),
    );
    for (const m of msgs) stream.write(m);
    stream.end();
  });
}

/** Starts a client stream and returns it unfinished (to drop it mid-way with cancel()). */
export function open<Req, Res>(client: object, start: StreamStart<Req, Res>, headers: Headers = {}) {
  let settle: (v: { err: ServiceError | null; res?: Res }) => void = () => {};
  const done = new Promise<{ err: ServiceError | null; res?: Res }>((r) => {
    settle = r;
  });
  const stream = start.call(client, metadataOf(headers), { deadline: Date.now() + 60_000 }, (err, res) =>
    settle({ err, res }),
  );
  return { stream, done };
}

/** Raw upload messages: the first carries the names, every one a slice of the body. */
export function rawUpload(
  parentId: string,
  name: string,
  data: Buffer,
  sha256 = "",
  requestId = "",
  chunk = 64 * 1024,
) {
  const msgs: filev1.UploadFileRequest[] = [];
  for (let i = 0; i === 0 || i < data.length; i += chunk) {
    msgs.push(
      filev1.UploadFileRequest.fromPartial({
        ...(i === 0 ? { parentId, name, sha256, requestId } : {}),
        body: { contentType: "application/octet-stream", data: data.subarray(i, i + chunk) },
      }),
    );
  }
  return msgs;
}

/** Collects every message of a server stream (rejects with the stream's error). */
export function collect<Res>(stream: ClientReadableStream<Res>): Promise<Res[]> {
  return new Promise((resolve, reject) => {
    const out: Res[] = [];
    stream.on("data", (m: Res) => out.push(m));
    stream.on("error", reject);
    stream.on("end", () => resolve(out));
  });
}

/** Grants `role` on a file to `subject` as the caller of `headers` (PermissionService.CreateGrant). */
export function grantOn(
  mesh: TestMesh,
  headers: Headers,
  fileId: string,
  subject: string,
  role: string,
  expireTime?: Date,
) {
  return rpc(
    mesh.permission,
    mesh.permission.createGrant,
    permissionv1.CreateGrantRequest.fromPartial({ fileId, grant: { subject, role, expireTime } }),
    headers,
  );
}
