// Scenarios: one file each, bench/scenarios/<name>.json = a ghz JSON config (ghz's own keys)
// plus an optional "bench" block the runner consumes and strips:
//   service   which service's gRPC port is the host (auth, user, permission, file, processor)
//   seed      { "users": n } registers n users; their Login requests become the call data
//   warmup    ghz duration run first and not recorded (e.g. "2s")
//   baseline  "bcrypt": the raw password-check loop, interleaved, reported as ratios
//   rounds    with a baseline: segments the duration is split into (default 3)
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
  const { bench = {}, ...ghz } = raw;
  if (!ghz.call) throw new Error(`scenario ${name}: "call" is required`);
  if (!bench.service) throw new Error(`scenario ${name}: "bench.service" is required`);
  if (!ghz.duration) throw new Error(`scenario ${name}: "duration" is required (e.g. "15s")`);
  return { name, file, bench, ghz };
}

/**
 * Writes the ghz config actually run to `<runDir>/<name>.ghz.json`: host filled in, paths
 * made absolute, seeded call data as a data file, duration overridden if asked.
 */
export function resolveScenario({ scenario, root, runDir, host, data, duration }) {
  const config = { ...scenario.ghz, host, name: scenario.name };
  for (const key of PATH_KEYS) {
    if (config[key] && !isAbsolute(config[key])) config[key] = join(root, config[key]);
  }
  if (data) {
    const dataFile = join(runDir, `${scenario.name}.data.json`);
    writeFileSync(dataFile, JSON.stringify(data));
    delete config.data;
    config["data-file"] = dataFile;
  }
  if (duration) config.duration = duration;
  const path = join(runDir, `${scenario.name}.ghz.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return { path, config };
}
