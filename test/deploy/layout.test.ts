// The house rules of the source tree, checked on every import of every .ts file under services/
// and test/ (specifiers as TypeScript itself reads them, dynamic imports included):
//   - a service never imports another service's files: not by path (../../file/src/…), not as a
//     package (@filemesh/file). What two services share lives in the kit (@filemesh/kit, /blob,
//     /testing) or the contracts (@filemesh/contracts); they talk over gRPC. Reaching into the
//     kit's or the contracts' folders by path is refused too (use the package and its exports).
//   - the kit imports no service;
//   - inside a service the rooms go one way: handlers → domain → store. `domain/` and `store/`
//     never import `handlers/`; `src/` never imports `test/`.
//   - services use the kit's one way of doing a thing (the kit surface, issue 13): peers through
//     `createPeer` (not `unary(client, client.fn, …)`), `inTransaction` (not `inTx`),
//     `runtime.beforeStop` (not patching `runtime.shutdown`), `callerUserId`/`callerSession`
//     (not their own "user id or UNAUTHENTICATED"); no SQL in handlers/ or domain/ (it lives in store/).
// The top-level test/ (harness, conformance, deploy) is the one place that starts whole services
// and may import any of them. KNOWN lists today's exceptions, each with its reason; it may only
// shrink: an entry that no longer matches an import fails too, so it is removed when fixed.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
/** Workspace packages any service may import. */
const SHARED = new Set(["kit", "contracts"]);
const SKIP_DIRS = new Set(["node_modules", "gen", "dist", ".tmp"]);

/** Imports that break a rule today, as `from -> to` (repo-relative), with why they stay. */
const KNOWN: Record<string, string> = {
  // The kit's security matrix signs access tokens with the auth service's own signer, so the
  // token format under test is the real one; a signer in the kit's testing module would fix it.
  "services/kit/test/security-matrix.test.ts -> services/auth/src/domain/tokens.ts":
    "the matrix needs real access tokens; move a token signer into @filemesh/kit/testing",
};

interface Violation {
  from: string;
  to: string;
  rule: string;
}

const posix = (p: string) => p.split(sep).join("/");

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) out.push(...tsFiles(join(dir, e.name)));
    } else if (/\.(ts|mts)$/.test(e.name) && !e.name.endsWith(".d.ts")) {
      out.push(join(dir, e.name));
    }
  }
  return out;
}

/** `services/<name>/<room…>` of a repo-relative path, or undefined outside services/. */
function place(path: string): { service: string; part: string; room: string } | undefined {
  const m = /^services\/([^/]+)\/([^/]+)(?:\/([^/]+)\/)?/.exec(path);
  return m ? { service: m[1]!, part: m[2]!, room: m[3] ?? "" } : undefined;
}

/** The rule an import of `spec` from repo-relative `from` breaks, if any. */
function check(from: string, spec: string): Violation | undefined {
  const src = place(from);
  if (!src) return undefined; // top-level test/: the harness may start any service
  const pkg = /^@filemesh\/([^/]+)/.exec(spec)?.[1];
  if (pkg) {
    if (SHARED.has(pkg) || pkg === src.service) return undefined;
    const rule = src.service === "kit" ? "the kit imports a service" : "a service imports another service";
    return { from, to: spec, rule };
  }
  if (!spec.startsWith(".")) return undefined; // npm packages and node: builtins
  const to = posix(relative(root, resolve(root, dirname(from), spec))).replace(/\.js$/, ".ts");
  const dst = place(to);
  if (!dst) {
    // Out of services/: the shared test harness and scripts, for tests only.
    return src.part === "src"
      ? { from, to, rule: "service code imports from outside its service" }
      : undefined;
  }
  if (dst.service !== src.service) {
    if (src.service === "kit") return { from, to, rule: "the kit imports a service" };
    if (SHARED.has(dst.service))
      return { from, to, rule: `path into ${dst.service}/ (import @filemesh/${dst.service})` };
    return { from, to, rule: "a service imports another service's files" };
  }
  if (src.part === "src" && dst.part === "test") return { from, to, rule: "src imports test/" };
  if (
    src.part === "src" &&
    dst.part === "src" &&
    dst.room === "handlers" &&
    ["domain", "store"].includes(src.room)
  ) {
    return { from, to, rule: `${src.room}/ imports handlers/` };
  }
  return undefined;
}

function violations(): Violation[] {
  const found: Violation[] = [];
  for (const file of [...tsFiles(join(root, "services")), ...tsFiles(join(root, "test"))]) {
    const from = posix(relative(root, file));
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName } of importedFiles) {
      const v = check(from, fileName);
      if (v) found.push(v);
    }
  }
  return found;
}

describe("source layout", () => {
  const found = violations();
  const key = (v: Violation) => `${v.from} -> ${v.to}`;

  it("keeps services apart, the kit free of services and the rooms one-way", () => {
    const fresh = found.filter((v) => !(key(v) in KNOWN)).map((v) => `${key(v)}: ${v.rule}`);
    expect(fresh).toEqual([]);
  });

  it("lists only exceptions that still exist (the allow-list shrinks)", () => {
    const seen = new Set(found.map(key));
    expect(Object.keys(KNOWN).filter((k) => !seen.has(k))).toEqual([]);
  });

  it("recognises each kind of forbidden import", () => {
    const rule = (from: string, spec: string) => check(from, spec)?.rule;
    expect(rule("services/processor/src/x.ts", "../../file/src/blob/blob-store.js")).toBe(
      "a service imports another service's files",
    );
    expect(rule("services/file/test/x.test.ts", "../../processor/test/support.js")).toBe(
      "a service imports another service's files",
    );
    expect(rule("services/user/src/x.ts", "@filemesh/file")).toBe("a service imports another service");
    expect(rule("services/kit/src/x.ts", "../../auth/src/config.js")).toBe("the kit imports a service");
    expect(rule("services/kit/src/x.ts", "@filemesh/permission")).toBe("the kit imports a service");
    expect(rule("services/file/src/domain/commit.ts", "../handlers/authorize.js")).toBe(
      "domain/ imports handlers/",
    );
    expect(rule("services/file/src/store/files.ts", "../handlers/views.js")).toBe("store/ imports handlers/");
    expect(rule("services/file/src/app.ts", "../test/start-file.js")).toBe("src imports test/");
    expect(rule("services/file/src/app.ts", "../../kit/src/index.js")).toMatch(/^path into kit/);
    expect(rule("services/file/src/app.ts", "../../../test/harness/mesh.js")).toMatch(/outside its service/);
    // Allowed: the kit's packages, the own service's rooms in order, the shared harness from tests.
    expect(rule("services/processor/src/x.ts", "@filemesh/kit/blob")).toBeUndefined();
    expect(rule("services/file/src/handlers/x.ts", "../domain/commit.js")).toBeUndefined();
    expect(rule("services/file/src/domain/commit.ts", "../store/files.js")).toBeUndefined();
    expect(rule("services/file/test/start-file.ts", "../../../test/harness/mesh.js")).toBeUndefined();
    expect(rule("test/harness/mesh.ts", "../../services/file/src/app.js")).toBeUndefined();
  });
});

/** Text in a service's src that re-does what the kit has one way for, with what to use. */
const SURFACE: [RegExp, string][] = [
  [/\bunary\(/, "call peers through createPeer (kit client.ts), not unary(client, client.fn, …)"],
  [/\binTx\b/, "use inTransaction"],
  [/runtime\.shutdown\s*=/, "register a runtime.beforeStop hook instead of patching runtime.shutdown"],
  [/unauthenticated\("MISSING_TOKEN"/, "use the kit's callerUserId/callerSession (principal.ts)"],
];

/** SQL in handlers/ (it belongs in store/); the file service's handlers that still hold some. */
const SQL = /\b(SELECT|INSERT INTO|DELETE FROM)\b|UPDATE [a-z_.]+ SET/;

function surfaceOffences(path: string, text: string): string[] {
  const p = place(path);
  if (!p || p.service === "kit" || p.part !== "src") return [];
  const out = SURFACE.filter(([re]) => re.test(text)).map(([, use]) => `${path}: ${use}`);
  if (["handlers", "domain"].includes(p.room) && SQL.test(text)) out.push(`${path}: SQL belongs in store/`);
  return out;
}

describe("kit surface", () => {
  it("services do each of these things the kit's one way", () => {
    const found = tsFiles(join(root, "services")).flatMap((f) =>
      surfaceOffences(posix(relative(root, f)), readFileSync(f, "utf8")),
    );
    expect(found).toEqual([]);
  });

  it("recognises each offence", () => {
    const f = "services/user/src/peers/x.ts";
    expect(surfaceOffences(f, "await unary(peers.auth, peers.auth.getAccount, req, o)")).toHaveLength(1);
    expect(surfaceOffences(f, "return inTx(pool, fn)")).toHaveLength(1);
    expect(surfaceOffences(f, "runtime.shutdown = (r) => stop(r)")).toHaveLength(1);
    expect(surfaceOffences(f, 'if (!id) throw unauthenticated("MISSING_TOKEN");')).toHaveLength(1);
    expect(surfaceOffences(f, "await peers.auth.getAccount(req, o)")).toEqual([]);
    expect(surfaceOffences("services/user/src/handlers/x.ts", 'tx.query("SELECT 1")')).toEqual([
      "services/user/src/handlers/x.ts: SQL belongs in store/",
    ]);
    expect(
      surfaceOffences("services/file/src/domain/x.ts", 'q.query("UPDATE files.files SET a = 1")'),
    ).toEqual(["services/file/src/domain/x.ts: SQL belongs in store/"]);
    expect(
      surfaceOffences("services/kit/src/principal.ts", 'throw unauthenticated("MISSING_TOKEN")'),
    ).toEqual([]);
  });
});
