import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createPageTokens, pageSize } from "./page-token.js";

describe("page tokens", () => {
  const tokens = createPageTokens(randomBytes(32));

  it("round-trip within their listing and nowhere else", () => {
    const t = tokens.issue("children:a:name", ["2", "b", "id"]);
    expect(tokens.read(t, "children:a:name")).toEqual(["2", "b", "id"]);
    expect(tokens.read("", "children:a:name")).toEqual([]);
    expect(() => tokens.read(t, "children:b:name")).toThrow(/page_token/);
    expect(() => tokens.read(`${t}x`, "children:a:name")).toThrow(/page_token/);
    expect(() => createPageTokens(randomBytes(32)).read(t, "children:a:name")).toThrow(/page_token/);
    expect(() => tokens.read("garbage", "x")).toThrow(/page_token/);
  });

  it("page sizes default, cap and refuse negatives", () => {
    expect(pageSize(0)).toBe(100);
    expect(pageSize(5000)).toBe(1000);
    expect(() => pageSize(-1)).toThrow(/negative/);
  });
});
