// Issue 15 (data plane), fs driver: 64 KiB uploads over REST, `POST /v1/files:upload`, through
// the grpc and proxy gateways of bench/lib/dataplane-mesh.mjs (grpc: the body as UploadFile
// messages; proxy: CreateUploadTicket, then the body to the file service's /v1/data/{ticket}),
// each upload counted, hashed (SHA-256), its quota reserved and committed with its permission
// tuples, interleaved with a plain Node HTTP server writing each body to a file of its own (a
// temp file renamed into place, as the fs store does; no fsync on either side) — the baseline.
// `--users` bench users take the uploads in turn (the per-user admission is fair among users).
// CPU per upload from /proc (auth, permission, file and the gateway). Usage (after npm run build):
//   node bench/dataplane-upload.mjs [--seconds 10] [--connections 64] [--rounds 2] [--users 16]
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rename } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream";
import {
  benchUser,
  dataplaneArgs,
  gatewayTargets,
  interleaved,
  startDataplaneMesh,
} from "./lib/dataplane-mesh.mjs";

const values = dataplaneArgs({ users: { type: "string", default: "16" } });
const SIZE = Number(values.size);
const mesh = await startDataplaneMesh();
const users = [];
for (let i = 0; i < Number(values.users); i++) users.push(await benchUser(mesh.url("proxy"), `dpu${i}`));
const body = randomBytes(SIZE);

// Baseline: a plain Node HTTP server writing each body to a new file (temp, then rename).
const dir = mkdtempSync(join(tmpdir(), "dp-upload-baseline-"));
mkdirSync(join(dir, "tmp"));
let seq = 0;
const baseline = http.createServer((req, res) => {
  const id = `${process.pid}-${seq++}`;
  const temp = join(dir, "tmp", id);
  pipeline(req, createWriteStream(temp), (err) => {
    if (err) {
      res.writeHead(500).end();
      return;
    }
    rename(temp, join(dir, id), (e) => {
      res.writeHead(e ? 500 : 200, { "content-type": "application/json" }).end(JSON.stringify({ id }));
    });
  });
});
await new Promise((r) => baseline.listen(58091, "127.0.0.1", r));

const run = `${Date.now()}`;
const upload = (i) => ({
  method: "POST",
  path: `/v1/files:upload?name=u-${run}-${i}.bin`,
  headers: {
    ...users[i % users.length],
    "content-type": "application/octet-stream",
    "content-length": String(SIZE),
  },
  body,
});
let names = 0;
const targets = {
  baseline: {
    origin: "http://127.0.0.1:58091",
    request: () => ({ method: "POST", path: "/", headers: { "content-length": String(SIZE) }, body }),
    good: (status) => status === 200,
    procs: [],
  },
  // Names unique across targets and rounds (one folder per user).
  ...gatewayTargets(
    mesh,
    ["grpc", "proxy"],
    () => upload(names++),
    (status) => status === 200,
  ),
};
await interleaved(targets, mesh.pids, {
  seconds: Number(values.seconds),
  connections: Number(values.connections),
  rounds: Number(values.rounds),
  what: "upload",
});
baseline.close();
mesh.stop();
process.exit(0);
