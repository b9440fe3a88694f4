#!/usr/bin/env node
// The `filemesh` command. The CLI is TypeScript and imports the generated contracts (TypeScript
// too, written by the root postinstall), so this entry bundles src/ with esbuild into
// dist/filemesh.js the first time it runs and again whenever an input is newer than the bundle
// (about 0.3 s), then runs it. Nothing needs a build step after `npm ci`.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(here, "dist", "filemesh.js");
const meta = join(here, "dist", "filemesh.inputs.json");

function stale() {
  if (!existsSync(out) || !existsSync(meta)) return true;
  const built = statSync(out).mtimeMs;
  try {
    const inputs = JSON.parse(readFileSync(meta, "utf8"));
    return inputs.some((p) => !existsSync(p) || statSync(p).mtimeMs > built);
  } catch {
    return true;
  }
}

if (stale()) {
  const { build } = await import("esbuild");
  mkdirSync(dirname(out), { recursive: true });
  // A private temp name, renamed into place: two CLIs building at once never see half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  const result = await build({
    entryPoints: [join(here, "src", "main.ts")],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["@grpc/grpc-js", "cli-progress"],
    absWorkingDir: here,
    metafile: true,
    logLevel: "error",
    legalComments: "none",
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => join(here, p));
  writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify(inputs));
  renameSync(`${meta}.${process.pid}.tmp`, meta);
  renameSync(tmp, out);
}

const { main } = await import(pathToFileURL(out).href);
process.exitCode = await main(process.argv.slice(2));
