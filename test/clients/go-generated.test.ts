// The Go client's stubs are committed (a Go module must build from `go get` alone); this
// keeps them equal to what the pinned generators make from proto/ today.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { root, run } from "./run.js";

const files = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();

describe("Go client stubs", () => {
  it("clients/go/pb is what clients/go/generate.sh makes from proto/", { timeout: 300_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), "go-stubs-"));
    const r = await run(join(root, "clients", "go", "generate.sh"), [out]);
    expect(r.code, r.stderr).toBe(0);
    const fresh = join(out, "clients", "go", "pb");
    const committed = join(root, "clients", "go", "pb");
    const hint = "stale Go stubs: run clients/go/generate.sh and commit clients/go/pb";
    expect(files(committed), hint).toEqual(files(fresh));
    for (const f of files(fresh)) {
      expect(readFileSync(join(committed, f), "utf8"), `${hint} (${f})`).toBe(
        readFileSync(join(fresh, f), "utf8"),
      );
    }
  });
});
