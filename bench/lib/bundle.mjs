// In-process scenarios measure the project's own code (the kit's token verification and
// session check, the auth service's session layout), not copies of it: their entry files
// (bench/lib/*.entry.ts) import the sources and are bundled here with esbuild like the
// services are (scripts/build.mjs: workspace code inlined, npm dependencies external).
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build } from "esbuild";

function externals(root) {
  const out = new Set();
  const dirs = [".", "services/kit", "services/contracts", "services/auth"];
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
      if (!dep.startsWith("@filemesh/")) out.add(dep);
    }
  }
  return [...out].flatMap((d) => [d, `${d}/*`]);
}

/** Bundles `entry` (relative to root) into `outDir`; resolves with the bundle's path. */
export async function bundleEntry({ root, entry, outDir }) {
  const outfile = join(outDir, basename(entry).replace(/\.entry\.ts$/, ".mjs"));
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    external: externals(root),
    logLevel: "warning",
  });
  return outfile;
}
