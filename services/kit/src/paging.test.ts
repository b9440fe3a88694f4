import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { AppError } from "./errors.js";
import { createPageTokens, loadPageTokenKey, type PageBinding, pageSize, secretsTableSql } from "./paging.js";
import { testDatabaseUrl, uniqueId } from "./testing/index.js";

const reasonOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof AppError ? `${e.code}:${e.reason}` : String(e);
  }
  return "no error";
};
const BAD_TOKEN = "3:INVALID_PAGE_TOKEN";

describe("page tokens", () => {
  const key = randomBytes(32);
  const tokens = createPageTokens(key);
  const grants: PageBinding = { list: "ListGrants", caller: "user:a", filter: ["file:1"] };

  it("round-trip for the same list, caller and filter; empty means the first page", () => {
    const t = tokens.issue(grants, ["user:b", "2"]);
    expect(tokens.read(t, { ...grants, filter: ["file:1"] })).toEqual(["user:b", "2"]);
    expect(createPageTokens(Buffer.from(key)).read(t, grants)).toEqual(["user:b", "2"]);
    expect(tokens.read("", grants)).toEqual([]);
  });

  it("refuse a token transplanted to another list, filter or caller", () => {
    const t = tokens.issue(grants, ["x"]);
    expect(reasonOf(() => tokens.read(t, { ...grants, list: "ListAccessible" }))).toBe(BAD_TOKEN);
    expect(reasonOf(() => tokens.read(t, { ...grants, filter: ["file:2"] }))).toBe(BAD_TOKEN);
    expect(reasonOf(() => tokens.read(t, { ...grants, filter: [] }))).toBe(BAD_TOKEN);
    expect(reasonOf(() => tokens.read(t, { ...grants, caller: "user:b" }))).toBe(BAD_TOKEN);
    // Parts are not concatenated: moving a separator between fields changes the binding.
    const split = tokens.issue({ list: "L", caller: "a", filter: ["b|c"] }, []);
    expect(reasonOf(() => tokens.read(split, { list: "L", caller: "a|b", filter: ["c"] }))).toBe(BAD_TOKEN);
  });

  it("refuse tampered, forged and foreign-key tokens", () => {
    const t = tokens.issue(grants, ["user:b"]);
    const [body, sig] = t.split(".") as [string, string];
    const otherBody = Buffer.from(JSON.stringify({ c: ["user:z"], e: Date.now() + 1e6 })).toString(
      "base64url",
    );
    expect(reasonOf(() => tokens.read(`${otherBody}.${sig}`, grants))).toBe(BAD_TOKEN);
    expect(reasonOf(() => tokens.read(`${body}.${sig.slice(0, -2)}AA`, grants))).toBe(BAD_TOKEN);
    expect(reasonOf(() => tokens.read(`${t}x`, grants))).toBe(BAD_TOKEN);
    expect(reasonOf(() => createPageTokens(randomBytes(32)).read(t, grants))).toBe(BAD_TOKEN);
    // The unsigned form permission used to issue.
    const unsigned = Buffer.from(JSON.stringify({ s: "file:1", a: "" })).toString("base64url");
    expect(reasonOf(() => tokens.read(unsigned, grants))).toBe(BAD_TOKEN);
  });

  it("refuse malformed tokens: bad base64, no signature, extra parts, oversize, wrong body", () => {
    for (const bad of ["garbage", "!!!.@@@", "a.b.c", ".", "W10.", `${"A".repeat(3000)}.AAAA`]) {
      expect(
        reasonOf(() => tokens.read(bad, grants)),
        bad,
      ).toBe(BAD_TOKEN);
    }
  });

  it("expire after their time to live", () => {
    let clock = 1_000_000;
    const short = createPageTokens(key, { ttlMs: 60_000, now: () => clock });
    const t = short.issue(grants, ["k"]);
    clock += 60_000;
    expect(short.read(t, grants)).toEqual(["k"]);
    clock += 1;
    expect(reasonOf(() => short.read(t, grants))).toBe(BAD_TOKEN);
  });

  it("need a key of at least 32 bytes", () => {
    expect(() => createPageTokens(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe("page sizes (AIP-158)", () => {
  it("0 is the default, above the maximum is clamped, negative is INVALID_PAGE_SIZE", () => {
    expect(pageSize(0)).toBe(100);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(1000)).toBe(1000);
    expect(pageSize(1001)).toBe(1000);
    expect(pageSize(2147483647)).toBe(1000);
    expect(pageSize(0, { default: 20, max: 50 })).toBe(20);
    expect(pageSize(51, { default: 20, max: 50 })).toBe(50);
    expect(reasonOf(() => pageSize(-1))).toBe("3:INVALID_PAGE_SIZE");
    expect(reasonOf(() => pageSize(1.5))).toBe("3:INVALID_PAGE_SIZE");
  });
});

describe("page token key", () => {
  it("is created once per schema and shared by every replica", async () => {
    const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
    const schema = uniqueId("paging").replace(/[^a-z0-9_]/g, "_");
    try {
      await pool.query(`CREATE SCHEMA "${schema}"`);
      await pool.query(secretsTableSql(schema));
      const [a, b] = await Promise.all([loadPageTokenKey(pool, schema), loadPageTokenKey(pool, schema)]);
      expect(a.length).toBe(32);
      expect(b.equals(a)).toBe(true);
      expect((await loadPageTokenKey(pool, schema)).equals(a)).toBe(true);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    }
  });
});
