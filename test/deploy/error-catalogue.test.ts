// The error catalogue (services/kit/src/error-catalogue.ts) against the code and the docs:
// every reason a service throws is catalogued with the status it is thrown with, nothing is
// catalogued that no one throws, and docs/errors.md is the catalogue's table
// (UPDATE_ERROR_DOCS=1 rewrites it).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type CatalogueEntry, ERROR_CATALOGUE as TABLE } from "../../services/kit/src/error-catalogue.js";

const ERROR_CATALOGUE: Readonly<Record<string, CatalogueEntry | undefined>> = TABLE;

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const HELPERS: Record<string, string> = {
  invalidArgument: "INVALID_ARGUMENT",
  bad: "INVALID_ARGUMENT", // user's and processor's field validation: invalidArgument with a field
  notFound: "NOT_FOUND",
  alreadyExists: "ALREADY_EXISTS",
  permissionDenied: "PERMISSION_DENIED",
  unauthenticated: "UNAUTHENTICATED",
  failedPrecondition: "FAILED_PRECONDITION",
  unavailable: "UNAVAILABLE",
  resourceExhausted: "RESOURCE_EXHAUSTED",
};
const HTTP: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNIMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

const walk = (d: string): string[] =>
  readdirSync(d).flatMap((n) => {
    const p = join(d, n);
    if (statSync(p).isDirectory()) return walk(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });

const walkTests = (d: string): string[] =>
  readdirSync(d).flatMap((n) => {
    if (["node_modules", "dist", ".tmp", "gen"].includes(n)) return [];
    const p = join(d, n);
    if (statSync(p).isDirectory()) return walkTests(p);
    return p.endsWith(".test.ts") ? [p] : [];
  });

/**
 * Every catalogued reason named as a string literal in the services' and the kit's src (a
 * reason chosen by a ternary or from a table is thrown, but not with a status the scan sees).
 */
function mentioned(): Set<string> {
  const out = new Set<string>();
  const services = join(root, "services");
  for (const svc of readdirSync(services)) {
    let files: string[];
    try {
      files = walk(join(services, svc, "src")).filter((f) => !f.endsWith("error-catalogue.ts"));
    } catch {
      continue;
    }
    for (const f of files)
      for (const m of readFileSync(f, "utf8").matchAll(/"([A-Z][A-Z0-9_]+)"/g)) out.add(m[1]!);
  }
  return out;
}

/** reason → statuses it is thrown with, from every service's and the kit's src. */
function thrown(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (reason: string, code: string) => out.set(reason, (out.get(reason) ?? new Set()).add(code));
  const services = join(root, "services");
  for (const svc of readdirSync(services)) {
    let files: string[];
    try {
      files = walk(join(services, svc, "src"));
    } catch {
      continue;
    }
    for (const f of files) {
      const t = readFileSync(f, "utf8");
      const helper = new RegExp(`\\b(${Object.keys(HELPERS).join("|")})\\(\\s*"([A-Z][A-Z0-9_]+)"`, "g");
      for (const m of t.matchAll(helper)) add(m[2]!, HELPERS[m[1]!]!);
      for (const m of t.matchAll(/new AppError\(\s*(?:status|Code)\.([A-Z_]+),\s*"([A-Z][A-Z0-9_]+)"/g))
        add(m[2]!, m[1]!);
    }
  }
  return out;
}

function catalogueMarkdown(): string {
  const rows = Object.entries(TABLE).map(
    ([reason, e]) =>
      `| \`${reason}\` | ${e.status.join(", ")} | ${e.http ?? e.status.map((s) => HTTP[s] ?? 500).join(", ")} | ${e.services.join(", ")} | ${e.meaning.replace(/\|/g, "\\|")} |`,
  );
  return [
    "# Errors",
    "",
    "Every `ErrorInfo.reason` the services answer with: its gRPC status, the HTTP status the gateway",
    "gives it, the services that use it and what it means. Generated from",
    "`services/kit/src/error-catalogue.ts` by `test/deploy/error-catalogue.test.ts`",
    "(`UPDATE_ERROR_DOCS=1 npx vitest run test/deploy/error-catalogue.test.ts`, then",
    "`npx biome format --write docs/errors.md`); do not edit by hand.",
    "",
    "| reason | gRPC status | HTTP | services | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

describe("the error catalogue", () => {
  const code = thrown();

  it("lists every reason the code throws, with the status it is thrown with", () => {
    const missing = [...code.keys()].filter((r) => !ERROR_CATALOGUE[r]).sort();
    expect(missing).toEqual([]);
    const wrong = [...code]
      .filter(([r, s]) => [...s].some((x) => !ERROR_CATALOGUE[r]?.status.includes(x as never)))
      .map(
        ([r, s]) => `${r}: thrown ${[...s].join("/")}, catalogued ${ERROR_CATALOGUE[r]?.status.join("/")}`,
      );
    expect(wrong).toEqual([]);
  });

  it("gives each reason one status (a reason means one thing to a client)", () => {
    const twice = Object.entries(TABLE).filter(([, e]) => e.status.length !== 1);
    expect(twice.map(([r, e]) => `${r}: ${e.status.join("/")}`)).toEqual([]);
  });

  it("lists nothing the code does not throw", () => {
    const named = mentioned();
    expect(Object.keys(ERROR_CATALOGUE).filter((r) => !code.has(r) && !named.has(r))).toEqual([]);
  });

  it("is what the tests expect: every reason a test asserts is catalogued", () => {
    // Not service reasons: the gateway's own (it refuses a request before any call, or cannot
    // reach a data endpoint), the CLI's (a path, a cut download, an HTTP status without a
    // google.rpc.Status) and a test helper's "call passed" marker; any other would be a test
    // asserting a reason no service can answer with.
    const NOT_SERVICES = new Set([
      "INVALID_REQUEST",
      "DATA_ENDPOINT_UNAVAILABLE",
      "PATH_NOT_FOUND",
      "DOWNLOAD_CUT",
      "HTTP_200",
      "PASSED",
    ]);
    const tests = [...walkTests(join(root, "services")), ...walkTests(join(root, "test"))];
    const unknown = new Set<string>();
    for (const f of tests) {
      const t = readFileSync(f, "utf8");
      for (const re of [
        /reason:\s*"([A-Z][A-Z0-9_]+)"/g, // toMatchObject({ code, reason: "…" })
        /\[\s*[45]\d\d,\s*"([A-Z][A-Z0-9_]+)"\s*\]/g, // [status, reasonOf(body)] pairs
        /reasonOf\([^)]*\)\)?\.toBe\("([A-Z][A-Z0-9_]+)"\)/g,
      ]) {
        for (const m of t.matchAll(re))
          if (!ERROR_CATALOGUE[m[1]!] && !NOT_SERVICES.has(m[1]!)) unknown.add(m[1]!);
      }
    }
    expect([...unknown].sort()).toEqual([]);
  });

  it("is what docs/errors.md shows", () => {
    const path = join(root, "docs", "errors.md");
    if (process.env.UPDATE_ERROR_DOCS) writeFileSync(path, catalogueMarkdown());
    // Compared with Biome's column padding taken out.
    const plain = (md: string) => md.replace(/ {2,}/g, " ").replace(/-{3,}/g, "---");
    expect(plain(readFileSync(path, "utf8"))).toBe(plain(catalogueMarkdown()));
  });
});
