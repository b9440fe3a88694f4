// Issue 15 (data plane), fs driver: 64 KiB uploads over REST, `POST /v1/files:upload`, through
// the grpc and proxy gateways of bench/lib/dataplane-mesh.mjs (grpc: the body as UploadFile
// messages; proxy: CreateUploadTicket, then the body to the file service's /v1/data/{ticket}),
// each upload counted, hashed (SHA-256), its quota reserved and committed with its permission
// tuples, interleaved with a plain Node HTTP server writing each body to a file of its own (a
// temp file renamed into place, as the fs store does; no fsync on either side) — the baseline —
// and by "floor": the same server hashing each body and recording it in one Postgres
// transaction, the least any committed upload costs; "floor-gw": the floor reached through the
// gateway's data-plane proxy (PUT /v1/data/…, a gateway of this build whose data endpoint is the
// floor server) — the least any committed REST upload through the gateway costs.
// `--users` bench users take the uploads in turn (the per-user admission is fair among users).
// CPU per upload from /proc (auth, permission, file and the gateway). Usage (after npm run build):
//   node bench/dataplane-upload.mjs [--seconds 10] [--connections 64] [--rounds 2] [--users 16]
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rename, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream";
import pg from "pg";
import {
  benchUser,
  dataplaneArgs,
  gatewayTargets,
  interleaved,
  startDataplaneMesh,
} from "./lib/dataplane-mesh.mjs";

const values = dataplaneArgs({ users: { type: "string", default: "16" } });
const SIZE = Number(values.size);
const FLOOR_PORT = 58092;
const mesh = await startDataplaneMesh({
  extraGateways: { "floor-gw": { port: 58084, env: { FILE_HTTP_ADDRS: `127.0.0.1:${FLOOR_PORT}` } } },
});
const users = [];
for (let i = 0; i < Number(values.users); i++) users.push(await benchUser(mesh.url("proxy"), `dpu${i}`));
const body = randomBytes(SIZE);

// Baseline: a plain Node HTTP server writing each body to a new file (temp, then rename).
const dir = mkdtempSync(join(tmpdir(), "dp-upload-baseline-"));
// The baseline writes gigabytes a run: its files go when the bench ends, however it ends.
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
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

// The floor of any upload that is "committed": the same plain server, each body hashed
// (SHA-256) on the way and recorded by one Postgres transaction (BEGIN, one INSERT of id, size
// and hash, COMMIT; pipelined by pg's queue, 10 connections, the bench's own table) before it
// answers. No quota, tuples, token, permission or outbox: what filemesh's upload must do on top.
const floorDb = new pg.Pool({
  connectionString: "postgres://postgres@127.0.0.1:5432/filemesh_dp_bench",
  max: 10,
});
await floorDb.query(
  "CREATE TABLE IF NOT EXISTS bench_floor_uploads (id text PRIMARY KEY, size int NOT NULL, sha256 text NOT NULL)",
);
await floorDb.query("TRUNCATE bench_floor_uploads");
const committed = http.createServer((req, res) => {
  const id = `${process.pid}-c${seq++}`;
  const temp = join(dir, "tmp", id);
  const hash = createHash("sha256");
  let size = 0;
  req.on("data", (c) => {
    hash.update(c);
    size += c.length;
  });
  pipeline(req, createWriteStream(temp), (err) => {
    if (err) {
      res.writeHead(500).end();
      return;
    }
    rename(temp, join(dir, id), async (e) => {
      if (e) return res.writeHead(500).end();
      const c = await floorDb.connect();
      try {
        await Promise.all([
          c.query("BEGIN"),
          c.query("INSERT INTO bench_floor_uploads (id, size, sha256) VALUES ($1, $2, $3)", [
            id,
            size,
            hash.digest("hex"),
          ]),
          c.query("COMMIT"),
        ]);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id }));
      } catch {
        res.writeHead(500).end();
      } finally {
        c.release();
      }
    });
  });
});
await new Promise((r) => committed.listen(FLOOR_PORT, "127.0.0.1", r));

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
  floor: {
    origin: "http://127.0.0.1:58092",
    request: () => ({ method: "POST", path: "/", headers: { "content-length": String(SIZE) }, body }),
    good: (status) => status === 200,
    procs: ["postgres"],
  },
  "floor-gw": {
    origin: mesh.url("floor-gw"),
    request: (i) => ({
      method: "PUT",
      path: `/v1/data/floor-${i}`,
      headers: { "content-type": "application/octet-stream", "content-length": String(SIZE) },
      body,
    }),
    good: (status) => status === 200,
    procs: ["gateway-floor-gw", "postgres"],
  },
  // Names unique across targets and rounds (one folder per user).
  ...gatewayTargets(
    mesh,
    ["grpc", "proxy"].filter((g) => values.gateways.split(",").includes(g)),
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
committed.close();
await floorDb.query("DROP TABLE bench_floor_uploads");
await floorDb.end();
mesh.stop();
process.exit(0);
