// A mesh for file-service tests: auth, permission, user and file (fs driver on a temp dir, or
// s3 against a MinIO the test starts), with promisified helpers for the file RPCs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filev1, permissionv1 } from "@filemesh/contracts";
import { call, startTestMinio, type TestMinio, uniqueId } from "@filemesh/kit/testing";
import {
  type ClientReadableStream,
  type ClientWritableStream,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { type ServiceName, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

export interface FileTestMesh {
  mesh: TestMesh;
  minio?: TestMinio;
  blobDir: string;
  f: filev1.FileServiceClient;
  stop(): Promise<void>;
}

export async function startFileMesh(
  o: { driver?: "fs" | "s3"; env?: Record<string, string>; replicas?: number; services?: ServiceName[] } = {},
): Promise<FileTestMesh> {
  const blobDir = mkdtempSync(join(tmpdir(), "filemesh-file-"));
  const minio = o.driver === "s3" ? await startTestMinio() : undefined;
  const blobEnv = minio
    ? minio.env(uniqueId("files").toLowerCase())
    : { BLOB_DRIVER: "fs", BLOB_DIR: blobDir };
  let mesh: TestMesh;
  try {
    mesh = await startTestMesh({
      services: o.services ?? ["auth", "permission", "user", "file"],
      replicas: { file: o.replicas ?? 1 },
      serviceEnv: { file: { ...blobEnv, ...o.env } },
    });
  } catch (err) {
    await minio?.stop();
    throw err;
  }
  return {
    mesh,
    ...(minio ? { minio } : {}),
    blobDir,
    f: mesh.file,
    async stop() {
      await mesh.stop();
      await minio?.stop();
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
