// Scenarios: one file each, bench/scenarios/<name>.json = the load driver's own config plus
// a "bench" block the runner consumes and strips (bench/README.md has the details):
//   kind      "ghz" (default: the rest of the file is a ghz config), "http" (bench/lib/http-loop.mjs:
//             method, path, body, connections, duration), "grpc-loop" (bench/lib/grpc-loop.mjs: op,
//             concurrency, duration) or "node" (an in-process script: script, args)
//   service   which service's gRPC port is the host (auth, user, permission, file, processor)
//   via       "gateway": the gateway's port instead (gRPC proxied, or REST for kind http)
//   seed      { "users": n } registers n users; their Login requests become the call data;
//             { "token": true } adds a valid access token (a dedicated bench user's) as
//             authorization metadata / header
//   ok        statuses that count as answered (default ["OK"]; e.g. ["Unimplemented"])
//   warmup    duration run first and not recorded (e.g. "2s")
//   baseline  "bcrypt" (the raw password-check loop), "direct" (this very config against the
//             service's own port), another scenario's name, or a list of these: interleaved
//             with this scenario's segments and reported as ratios
//   alongside another scenario run concurrently with each measured segment (this scenario
//             alone is then the baseline)
//   rounds    with a baseline: segments the duration is split into (default 3)
//   redis     "private" (kind node): a throw-away redis-server for the script (--redis-url)
//   extends   another scenario's name: its config is the base, this file's keys (bench ones
//             included, each whole) replace its own — e.g. the same call data with other metadata
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";

const PATH_KEYS = ["proto", "protoset", "data-file", "binary-file", "metadata-file"];

export function listScenarios(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => basename(f, ".json"))
    .sort();
}

/** Reads one scenario; fails with the file name on anything the runner cannot use. */
export function loadScenario(dir, name) {
  const file = join(dir, `${name}.json`);
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`scenario ${name}: cannot read ${file}: ${err.message}`);
  }
  if (raw.bench?.extends) {
    const { extends: base, ...own } = raw.bench;
    const parent = loadScenario(dir, base);
    const { bench: _, ...rest } = raw;
    raw = { ...parent.ghz, ...rest, bench: { ...parent.bench, ...own } };
  }
  const { bench = {}, ...ghz } = raw;
  const kind = bench.kind ?? "ghz";
  const need = { ghz: ["call"], http: ["path"], "grpc-loop": ["op"], file: ["op"], node: ["script"] }[kind];
  if (!need) throw new Error(`scenario ${name}: unknown bench.kind "${kind}"`);
  for (const key of need) if (!ghz[key]) throw new Error(`scenario ${name}: "${key}" is required`);
  if (kind !== "node" && !bench.service) throw new Error(`scenario ${name}: "bench.service" is required`);
  if (kind !== "node" && !ghz.duration && !ghz.count) {
    throw new Error(`scenario ${name}: "duration" is required (e.g. "15s")`);
  }
  return { name, file, bench: { ...bench, kind }, ghz };
}

/**
 * Writes the ghz config actually run to `<runDir>/<name>.ghz.json`: host filled in, paths
 * made absolute, seeded call data as a data file, duration overridden if asked.
 */
export function resolveScenario({ scenario, root, runDir, host, data, duration, metadata, suffix = "" }) {
  const config = { ...scenario.ghz, host, name: scenario.name };
  if (metadata) config.metadata = { ...config.metadata, ...metadata };
  for (const key of PATH_KEYS) {
    if (config[key] && !isAbsolute(config[key])) config[key] = join(root, config[key]);
  }
  if (data) {
    const dataFile = join(runDir, `${scenario.name}${suffix}.data.json`);
    writeFileSync(dataFile, JSON.stringify(data));
    delete config.data;
    config["data-file"] = dataFile;
  }
  if (duration) config.duration = duration;
  const ext = scenario.bench.kind === "ghz" ? "ghz" : scenario.bench.kind;
  const path = join(runDir, `${scenario.name}${suffix}.${ext}.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return { path, config };
}
