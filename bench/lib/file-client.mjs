// The file service as a bench client sees it, and MinIO straight: one call each for the file
// scenarios' loops and their seeding (grpc-js with the descriptor image, node:http through the
// gateway, @aws-sdk/client-s3 + lib-storage for the direct baselines). Bodies are cut from one
// random block, so a 1 GiB upload never holds 1 GiB.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { credentials, loadPackageDefinition, Metadata } from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer } from "@grpc/proto-loader";

const LOADER = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

/**
 * FileService clients on `channels` separate HTTP/2 connections (grpc-js shares one connection
 * per target unless the channel options differ). Messages keep the proto field names.
 */
export function fileClients(root, addr, channels = 1, window = 0) {
  const image = readFileSync(join(root, "gen", "filemesh.binpb"));
  const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(image, LOADER));
  const opts = { "grpc.max_receive_message_length": 64 << 20, "grpc.max_send_message_length": 64 << 20 };
  // The HTTP/2 receive window (grpc-js keeps the protocol's 64 KiB unless told otherwise).
  if (window) opts["grpc-node.flow_control_window"] = window;
  return Array.from(
    { length: channels },
    (_, i) =>
      new pkg.filemesh.file.v1.FileService(addr, credentials.createInsecure(), {
        ...opts,
        "bench.channel": i,
      }),
  );
}

export const bearer = (token) => {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
};

const DEADLINE_MS = 300_000;
export const unary = (client, method, req, md, deadlineMs = DEADLINE_MS) =>
  new Promise((resolve, reject) =>
    client[method](req, md, { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );

/** A body of `size` bytes in pieces of at most `chunk`, cut from `block` (reused, never copied). */
export function* pieces(block, size, chunk) {
  let sent = 0;
  while (sent < size) {
    const n = Math.min(chunk, size - sent);
    const at = sent % block.length;
    yield at + n <= block.length
      ? block.subarray(at, at + n)
      : Buffer.concat([block.subarray(at), block.subarray(0, at + n - block.length)]);
    sent += n;
  }
}

/** Writes messages to a client stream with backpressure, then ends it. */
async function writeAll(call, messages) {
  for (const m of messages) {
    if (!call.write(m)) await once(call, "drain");
  }
  call.end();
}

/** UploadFile (client stream, the first message names the file); resolves with the File. */
export function uploadFile(client, md, { parentId, name, block, size, chunk }) {
  return new Promise((resolve, reject) => {
    const call = client.uploadFile(md, { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      err ? reject(err) : resolve(res.file),
    );
    const messages = function* () {
      let first = true;
      for (const data of size ? pieces(block, size, chunk) : [Buffer.alloc(0)]) {
        yield {
          ...(first ? { parent_id: parentId, name } : {}),
          body: { content_type: first ? "application/octet-stream" : "", data },
        };
        first = false;
      }
    };
    writeAll(call, messages()).catch(reject);
  });
}

/** CreateUpload (STREAM) + one WriteUpload from 0 to the end with finish_write; resolves with the File. */
export async function writeUpload(client, md, { parentId, name, block, size, chunk }) {
  const { upload } = await unary(
    client,
    "createUpload",
    { parent_id: parentId, name, size_bytes: String(size), method: "UPLOAD_METHOD_STREAM" },
    md,
  );
  return new Promise((resolve, reject) => {
    const call = client.writeUpload(md, { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      err ? reject(err) : resolve(res.file),
    );
    const messages = function* () {
      let first = true;
      for (const data of pieces(block, size, chunk)) {
        yield { ...(first ? { upload_id: upload.id, write_offset: "0" } : {}), data };
        first = false;
      }
      yield { ...(first ? { upload_id: upload.id, write_offset: "0" } : {}), finish_write: true };
    };
    writeAll(call, messages()).catch(reject);
  });
}

/** ReadFile or GetFileContent (server stream); resolves with the content bytes received. */
export function download(client, md, fileId, method = "readFile") {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const call = client[method]({ file_id: fileId }, md, { deadline: Date.now() + DEADLINE_MS });
    call.on("data", (m) => {
      bytes += m.data?.length ?? 0;
    });
    call.on("error", reject);
    call.on("end", () => resolve(bytes));
  });
}

/** DeleteFile permanent (a folder with everything below it). */
export const deleteFile = (client, md, fileId) =>
  unary(client, "deleteFile", { file_id: fileId, permanent: true }, md);

// REST through the gateway (node:http, keep-alive).
export function httpAgent(connections) {
  return new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/** One HTTP request; resolves with { status, bytes, text } (the body's text unless `discard`). */
export function request(agent, base, { method, path, token, headers = {}, body, discard = false }) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      },
      (res) => {
        let bytes = 0;
        const keep = res.statusCode !== 200 || !discard;
        const parts = [];
        res.on("data", (d) => {
          bytes += d.length;
          if (keep) parts.push(d);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode, bytes, text: keep ? Buffer.concat(parts).toString() : "" }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (!body) return req.end();
    Readable.from(body).pipe(req);
  });
}

const httpError = (what, r) =>
  Object.assign(new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`), { code: String(r.status) });

/** POST /v1/files:upload (raw body, Content-Length known); resolves with the File (JSON). */
export async function restUpload(agent, base, token, { parentId, name, block, size, chunk }) {
  const q = new URLSearchParams({ parentId, name });
  const r = await request(agent, base, {
    method: "POST",
    path: `/v1/files:upload?${q}`,
    token,
    headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    body: pieces(block, size, chunk),
  });
  if (r.status !== 200) throw httpError("POST /v1/files:upload", r);
  return JSON.parse(r.text);
}

/** GET /v1/files/{id}/content; resolves with the bytes received. */
export async function restDownload(agent, base, token, fileId) {
  const r = await request(agent, base, {
    method: "GET",
    path: `/v1/files/${fileId}/content`,
    token,
    discard: true,
  });
  if (r.status !== 200) throw httpError("GET content", r);
  return r.bytes;
}

// MinIO straight, with the client settings of the kit's s3 driver
// (services/kit/src/blob/s3-store.ts: createS3Client, and put's lib-storage Upload).
export async function s3Direct(s3) {
  const { S3Client, GetObjectCommand, DeleteObjectCommand } = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const client = new S3Client({
    region: s3.region,
    forcePathStyle: true,
    endpoint: s3.endpoint,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const Bucket = s3.bucket;
  return {
    async get(Key) {
      const res = await client.send(new GetObjectCommand({ Bucket, Key }));
      let bytes = 0;
      for await (const c of res.Body) bytes += c.length;
      return bytes;
    },
    async put(Key, { block, size, chunk, partBytes }) {
      const upload = new Upload({
        client,
        params: { Bucket, Key, Body: Readable.from(pieces(block, size, chunk)) },
        partSize: partBytes,
        queueSize: 2,
        leavePartsOnError: false,
      });
      await upload.done();
      return size;
    },
    delete: (Key) => client.send(new DeleteObjectCommand({ Bucket, Key })),
    destroy: () => client.destroy(),
  };
}
