// Closed-loop HTTP/1.1 load from Node (node:http, keep-alive, no dependencies): `connections`
// sockets, one request in flight on each, for `seconds`. Used for REST routes through the
// gateway. Prints one segment record (bench/lib/stats.mjs) on stdout; the status of a call
// is its HTTP status code as text ("200", "429", …), or "error" when the request failed.
//   node bench/lib/http-loop.mjs --url http://127.0.0.1:8080/v1/auth/jwks --connections 32 \
//        --seconds 5 [--header 'authorization: Bearer …'] [--method GET] [--body '{…}']
import http from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    method: { type: "string", default: "GET" },
    header: { type: "string", multiple: true, default: [] },
    body: { type: "string", default: "" },
    connections: { type: "string", default: "32" },
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "0.5" },
  },
});
const url = new URL(values.url);
const connections = Number(values.connections);
const headers = Object.fromEntries(
  values.header.map((h) => [
    h.slice(0, h.indexOf(":")).trim().toLowerCase(),
    h.slice(h.indexOf(":") + 1).trim(),
  ]),
);
if (values.body) {
  headers["content-type"] ??= "application/json";
  headers["content-length"] = String(Buffer.byteLength(values.body));
}
const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });

const once = () =>
  new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: values.method,
        headers,
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve(String(res.statusCode)));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(values.body || undefined);
  });

async function loop(secs, record) {
  const end = performance.now() + secs * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      let code;
      try {
        code = await once();
      } catch (err) {
        code = "error";
        record.errors[err.message] = (record.errors[err.message] ?? 0) + 1;
      }
      const done = performance.now();
      if (done > end) break;
      record.statusCodes[code] = (record.statusCodes[code] ?? 0) + 1;
      record.lat[code] ??= [];
      record.lat[code].push(Math.round((done - t) * 1000) / 1000);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return record;
}

const fresh = (seconds) => ({ seconds, statusCodes: {}, errors: {}, lat: {} });
await loop(Number(values.warmup), fresh(0)); // open the sockets outside the window
const record = await loop(Number(values.seconds), fresh(Number(values.seconds)));
process.stdout.write(`${JSON.stringify(record)}\n`);
agent.destroy();
