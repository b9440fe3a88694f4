// Issue 15 (data plane), fs driver: 64 KiB downloads over REST, `GET /v1/files/{id}/content`,
// through the three gateways of bench/lib/dataplane-mesh.mjs (grpc: the server stream of
// HttpBody messages; proxy: CreateDownloadTicket, then the bytes from the file service's
// /v1/data/{ticket}; local: the bytes straight from disk), interleaved with a plain Node HTTP
// server streaming the very same object file from disk (the baseline), CPU per download from
// /proc. Private ports and database, so it runs beside another mesh. Usage (after npm run build):
//   node bench/dataplane-download.mjs [--seconds 10] [--connections 64] [--rounds 2] [--gateways local,proxy,grpc] [--files 1]
// --files N: the user's N files of the same size, requests going round them (one file: every
// download reads the same row; N: concurrent downloads read different ones).
import { createReadStream } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import {
  benchUser,
  dataplaneArgs,
  gateways,
  gatewayTargets,
  interleaved,
  startDataplaneMesh,
} from "./lib/dataplane-mesh.mjs";

const values = dataplaneArgs({ files: { type: "string", default: "1" } });
const FILES = Number(values.files);
if (!Number.isSafeInteger(FILES) || FILES < 1) throw new Error("--files: a positive integer");
const SIZE = Number(values.size);
const mesh = await startDataplaneMesh();

// Seed: one user, one 64 KiB file.
const gw = mesh.url("proxy");
const auth = await benchUser(gw, "dp");
const ids = [];
for (let n = 0; n < FILES; n++) {
  const up = await fetch(`${gw}/v1/files:upload?name=bench-${n}.bin`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/octet-stream" },
    body: Buffer.alloc(SIZE, 7),
  });
  const got = await up.json();
  if (!got.id) throw new Error(`seed failed: ${JSON.stringify(got)}`);
  ids.push(got.id);
}
const file = { id: ids[0] };
const ticket = await fetch(`${gw}/v1/files/${file.id}/content?redirect=true`, {
  headers: auth,
  redirect: "manual",
});
const claims = JSON.parse(
  Buffer.from(ticket.headers.get("location").split("/").pop().split(".")[0], "base64url").toString(),
);
const objectPath = join(mesh.blobDir, "objects", claims.k);

// Baseline: a plain Node HTTP server streaming the same file (headers as a download has).
const baseline = http.createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": SIZE,
    "content-disposition": 'attachment; filename="bench.bin"',
    "x-content-type-options": "nosniff",
  });
  createReadStream(objectPath).pipe(res);
});
await new Promise((r) => baseline.listen(58090, "127.0.0.1", r));

const good = (status, bytes) => status === 200 && bytes === SIZE;
const targets = {
  baseline: { origin: "http://127.0.0.1:58090", request: () => ({ path: "/" }), good, procs: [] },
  ...gatewayTargets(
    mesh,
    values.gateways.split(",").filter((g) => g in gateways),
    (i) => ({ path: `/v1/files/${ids[i % FILES]}/content`, headers: auth }),
    good,
  ),
};
await interleaved(targets, mesh.pids, {
  seconds: Number(values.seconds),
  connections: Number(values.connections),
  rounds: Number(values.rounds),
  what: "download",
});
baseline.close();
mesh.stop();
process.exit(0);
