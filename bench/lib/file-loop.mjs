// Load for the file scenarios, from Node: uploads and downloads through the file service
// (gRPC straight to it, or REST through the gateway) and the same through MinIO directly.
//   --op grpc-read | grpc-content | rest-content | s3-get      download a seeded file
//        grpc-url   GetDownloadUrl, then GET of the presigned URL straight from MinIO
//        grpc-upload | grpc-write | rest-upload | s3-put       upload --size bytes
//   --seconds S   closed loop: --concurrency ops in flight for S seconds (ops still running at
//                 the end are not counted, as ghz's duration-stop=ignore)
//   --window B    the gRPC client's HTTP/2 receive window (default: grpc-js's 64 KiB)
//   --count N     N ops by --concurrency workers (--count = --concurrency: a burst, all at once);
//                 seconds = from the first start to the last end
// Downloads spread over the seeded users and their files (op i: user i mod users); uploads
// go into each user's bench folder; with --cleanup, what a segment uploaded is deleted after
// it (untimed). Connections are opened before the clock starts. Prints one segment record
// (bench/lib/stats.mjs) plus bytes moved by answered calls and this process's CPU time.
//   node bench/lib/file-loop.mjs --op grpc-read --seed bench/results/<stamp>/<name>.seed.json \
//        --addr 127.0.0.1:50054 --concurrency 16 --seconds 5
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { status } from "@grpc/grpc-js";
import {
  bearer,
  deleteFile,
  download,
  fileClients,
  httpAgent,
  request,
  restDownload,
  restUpload,
  s3Direct,
  unary,
  uploadFile,
  writeUpload,
} from "./file-client.mjs";
import { since, snapshot } from "./proc-cpu.mjs";

const { values } = parseArgs({
  options: {
    op: { type: "string" },
    seed: { type: "string" },
    addr: { type: "string", default: "127.0.0.1:50054" },
    http: { type: "string", default: "http://127.0.0.1:8080" },
    concurrency: { type: "string", default: "16" },
    seconds: { type: "string", default: "" },
    count: { type: "string", default: "" },
    size: { type: "string", default: "65536" },
    chunk: { type: "string", default: "262144" },
    "part-bytes": { type: "string", default: String(8 << 20) },
    channels: { type: "string", default: "1" },
    window: { type: "string", default: "0" },
    cleanup: { type: "boolean", default: false },
    // {"file": pid, …}: the serving processes whose CPU the loop reports for the load alone
    // (without the --cleanup deletes that follow it).
    pids: { type: "string", default: "" },
    root: { type: "string", default: process.cwd() },
  },
});
const op = values.op;
const seed = JSON.parse(readFileSync(values.seed, "utf8"));
const concurrency = Number(values.concurrency);
const size = Number(values.size);
const chunk = Number(values.chunk);
const users = seed.users;
const codeName = Object.fromEntries(
  Object.entries(status).map(([k, v]) => [
    v,
    k.toLowerCase().replace(/(^|_)(\w)/g, (_, __, c) => c.toUpperCase()),
  ]),
);
codeName[0] = "OK";
codeName[status.CANCELLED] = "Canceled"; // as Go (ghz) spells it

const grpc = op.startsWith("grpc-")
  ? fileClients(values.root, values.addr, Number(values.channels), Number(values.window))
  : [];
const agent = op.startsWith("rest-") ? httpAgent(concurrency) : undefined;
const urlAgent = op === "grpc-url" ? httpAgent(concurrency) : undefined;
const s3 = op.startsWith("s3-") ? await s3Direct(seed.s3) : undefined;
const block =
  op.endsWith("upload") || op.endsWith("write") || op === "s3-put" ? randomBytes(16 << 20) : undefined;
const mds = users.map((u) => bearer(u.token));
const tag = randomBytes(4).toString("hex");

/** The seeded file of op i: user i mod U, then that user's files in turn. */
const fileOf = (i) => {
  const u = i % users.length;
  const files = users[u].files;
  return { u, file: files[Math.floor(i / users.length) % files.length] };
};
const uploaded = []; // { u, id } or { key }
const body = { block, size, chunk };
/** An upload through the file service into user (i mod users)'s folder, kept for --cleanup. */
const viaService = (send) => async (i) => {
  const u = i % users.length;
  const f = await send(i, u, { parentId: users[u].folderId, name: `f-${tag}-${i}`, ...body });
  uploaded.push({ u, id: f.id });
  return size;
};
const ops = {
  "grpc-read": (i) => {
    const { u, file } = fileOf(i);
    return download(grpc[i % grpc.length], mds[u], file.id, "readFile");
  },
  "grpc-content": (i) => {
    const { u, file } = fileOf(i);
    return download(grpc[i % grpc.length], mds[u], file.id, "getFileContent");
  },
  "rest-content": (i) => {
    const { u, file } = fileOf(i);
    return restDownload(agent, values.http, users[u].token, file.id);
  },
  "s3-get": (i) => s3.get(fileOf(i).file.objectKey),
  "grpc-url": async (i) => {
    const { u, file } = fileOf(i);
    const { url } = await unary(grpc[i % grpc.length], "getDownloadUrl", { file_id: file.id }, mds[u]);
    const r = await request(urlAgent, url, { method: "GET", path: url, discard: true });
    if (r.status !== 200)
      throw Object.assign(new Error(`GET presigned: HTTP ${r.status}`), { code: String(r.status) });
    return r.bytes;
  },
  "grpc-upload": viaService((i, u, o) => uploadFile(grpc[i % grpc.length], mds[u], o)),
  "grpc-write": viaService((i, u, o) => writeUpload(grpc[i % grpc.length], mds[u], o)),
  "rest-upload": viaService((_i, u, o) => restUpload(agent, values.http, users[u].token, o)),
  "s3-put": async (i) => {
    const key = `bench/${tag}/${i}`;
    await s3.put(key, { ...body, partBytes: Number(values["part-bytes"]) });
    uploaded.push({ key });
    return size;
  },
};
const call = ops[op];
if (!call) {
  console.error(`file-loop: unknown --op ${op}`);
  process.exit(2);
}

// Open the connections outside the window: each gRPC channel, and as many keep-alive sockets
// as there will be requests in flight.
for (const c of grpc) await unary(c, "getUsage", {}, mds[0], 30_000);
if (agent) {
  await Promise.all(
    Array.from({ length: concurrency }, () =>
      request(agent, values.http, { method: "GET", path: "/v1/usage", token: users[0].token }),
    ),
  );
}
if (s3) await s3.get(fileOf(0).file?.objectKey ?? "missing").catch(() => {});

const statusCodes = {};
const errors = {};
const lat = {};
let bytes = 0;
const count = values.count ? Number(values.count) : Number.POSITIVE_INFINITY;
const seconds = values.seconds ? Number(values.seconds) : Number.POSITIVE_INFINITY;
const servers = values.pids ? JSON.parse(values.pids) : {};
const serversBefore = snapshot(servers);
const cpuBefore = process.cpuUsage();
const start = performance.now();
const end = start + seconds * 1000;
let last = start;
let next = 0;
const worker = async () => {
  while (next < count && performance.now() < end) {
    const i = next++;
    const t = performance.now();
    let code = "OK";
    let got = 0;
    try {
      got = await call(i);
    } catch (err) {
      code = err.code === undefined ? "error" : (codeName[err.code] ?? String(err.code));
      const msg = `${code}: ${err.details ?? err.message}`.slice(0, 300);
      errors[msg] = (errors[msg] ?? 0) + 1;
    }
    const done = performance.now();
    if (done > end) break;
    last = Math.max(last, done);
    statusCodes[code] = (statusCodes[code] ?? 0) + 1;
    lat[code] ??= [];
    lat[code].push(Math.round((done - t) * 1000) / 1000);
    if (code === "OK") bytes += got;
  }
};
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
const cpu = process.cpuUsage(cpuBefore);
const serversCpu = since(serversBefore, snapshot(servers));
const wall = Number.isFinite(seconds) ? seconds : (last - start) / 1000;

if (values.cleanup) {
  // Deletes go to the file service's own port (--addr) whichever way the bytes went.
  const cleaner = grpc[0] ?? fileClients(values.root, values.addr)[0];
  let k = 0;
  const remove = async () => {
    while (k < uploaded.length) {
      const x = uploaded[k++];
      if (x.key) await s3.delete(x.key).catch(() => {});
      else await deleteFile(cleaner, mds[x.u], x.id).catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: 8 }, remove));
}
process.stdout.write(
  `${JSON.stringify({ seconds: Math.round(wall * 1000) / 1000, statusCodes, errors, lat, bytes, cpuMs: { ...serversCpu, client: Math.round((cpu.user + cpu.system) / 1000) } })}\n`,
);
process.exit(0);
