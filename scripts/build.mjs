// Bundles each service's src/main.ts (with the workspace packages and generated contracts)
// into dist/<service>.js with esbuild; npm dependencies stay external. Then builds the Go
// gateway. Type checking is `npm run check` (tsc --noEmit), not part of the bundle step.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const services = ["auth", "user", "permission", "file", "processor"];

const external = new Set();
for (const dir of [".", ...services.map((s) => `services/${s}`), "services/kit", "services/contracts"]) {
  const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })) {
    if (!dep.startsWith("@filemesh/")) external.add(dep);
  }
}

const started = performance.now();
await Promise.all(
  services
    .filter((s) => existsSync(join(root, "services", s, "src", "main.ts")))
    .map((s) =>
      build({
        entryPoints: [join(root, "services", s, "src", "main.ts")],
        outfile: join(root, "dist", `${s}.js`),
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        sourcemap: "linked",
        external: [...external].flatMap((d) => [d, `${d}/*`]),
        logLevel: "warning",
        legalComments: "none",
      }),
    ),
);
console.log(`build: bundled ${services.join(", ")} in ${(performance.now() - started).toFixed(0)} ms`);

// The web console (console/dist), served by the gateway at / (CONSOLE_DIR).
const consoleConfig = join(root, "console", "vite.config.ts");
if (existsSync(consoleConfig)) {
  const { build: viteBuild } = await import("vite");
  const t = performance.now();
  await viteBuild({ configFile: consoleConfig, logLevel: "warn" });
  console.log(`build: console/dist in ${(performance.now() - t).toFixed(0)} ms`);
}

const gatewayBuild = join(root, "gateway", "build.sh");
if (existsSync(gatewayBuild)) execFileSync(gatewayBuild, { cwd: root, stdio: "inherit" });

// The Go client's stubs (clients/go/pb), built like the gateway rather than committed.
const goClientStubs = join(root, "clients", "go", "generate.sh");
if (existsSync(goClientStubs)) execFileSync(goClientStubs, { cwd: root, stdio: "inherit" });
