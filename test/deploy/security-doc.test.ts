// docs/security.md keeps one row per RPC of the contracts, and every row names a test that
// exists: this fails when an RPC is added without a row, when a row names an RPC that is gone,
// and when a cited test file or test title does not exist (or was renamed).
//   Row:  | `filemesh.<svc>.v1.<Service>/<Method>` | … | `path/to/x.test.ts` › "test title" |
// A title counts as found when the file holds it as a string literal ("…", '…' or `…`).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { methodCatalog } from "@filemesh/contracts";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const DOC = join(root, "docs", "security.md");

interface Row {
  line: number;
  rpc: string;
  tests: { file: string; title: string }[];
}

function parseRows(markdown: string): Row[] {
  const rows: Row[] = [];
  markdown.split("\n").forEach((text, i) => {
    const rpc = /^\|\s*`(filemesh\.[a-z]+\.v1\.[A-Za-z]+\/[A-Za-z]+)`\s*\|/.exec(text)?.[1];
    if (!rpc) return;
    const cells = text.split("|");
    const last = cells[cells.length - 2] ?? "";
    const tests = [...last.matchAll(/`([^`]+\.test\.ts)`\s*›\s*"([^"]+)"/g)].map((m) => ({
      file: m[1]!,
      title: m[2]!,
    }));
    rows.push({ line: i + 1, rpc, tests });
  });
  return rows;
}

/** The problems of a document against the contracts (empty when it is complete and true). */
function problemsOf(markdown: string): string[] {
  const rows = parseRows(markdown);
  const rpcs = new Set(methodCatalog.map((m) => m.path.slice(1)));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (!rpcs.has(r.rpc)) problems.push(`line ${r.line}: ${r.rpc} is not an RPC of the contracts`);
    if (seen.has(r.rpc)) problems.push(`line ${r.line}: ${r.rpc} has a second row`);
    seen.add(r.rpc);
    if (r.tests.length === 0) problems.push(`line ${r.line}: ${r.rpc} names no test`);
    for (const t of r.tests) {
      const path = join(root, t.file);
      if (!existsSync(path)) {
        problems.push(`line ${r.line}: ${t.file} does not exist`);
        continue;
      }
      const source = readFileSync(path, "utf8");
      if (![`"${t.title}"`, `'${t.title}'`, `\`${t.title}\``].some((q) => source.includes(q))) {
        problems.push(`line ${r.line}: ${t.file} has no test titled "${t.title}"`);
      }
    }
  }
  for (const rpc of rpcs) if (!seen.has(rpc)) problems.push(`${rpc} has no row`);
  return problems;
}

describe("docs/security.md", () => {
  it("has one row per RPC of the contracts, each naming tests that exist", () => {
    expect(problemsOf(readFileSync(DOC, "utf8"))).toEqual([]);
  });

  it("notices a missing row, a row for an RPC that is gone, and a test that does not exist", () => {
    const doc = readFileSync(DOC, "utf8");
    const lines = doc.split("\n");
    const first = lines.findIndex((l) => l.startsWith("| `filemesh."));
    const row = lines[first]!;
    const rpc = parseRows(row)[0]!.rpc;
    const without = [...lines.slice(0, first), ...lines.slice(first + 1)].join("\n");
    expect(problemsOf(without)).toContain(`${rpc} has no row`);
    const gone = row.replace(rpc, `${rpc.split("/")[0]}/NoSuchMethod`);
    expect(problemsOf(`${doc}\n${gone}`).some((p) => p.includes("NoSuchMethod is not an RPC"))).toBe(true);
    const badFile = row.replace(/`[^`]+\.test\.ts`/, "`test/nowhere.test.ts`");
    expect(problemsOf(badFile).some((p) => p.includes("test/nowhere.test.ts does not exist"))).toBe(true);
    const badTitle = row.replace(/›\s*"[^"]+"/, '› "a title no test has"');
    expect(problemsOf(badTitle).some((p) => p.includes('no test titled "a title no test has"'))).toBe(true);
  });
});
