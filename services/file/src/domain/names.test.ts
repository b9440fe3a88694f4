import { describe, expect, it } from "vitest";
import { cleanName, nameProblem } from "./names.js";

describe("display names", () => {
  it("keeps ordinary names (NFC, trimmed)", () => {
    expect(cleanName("  report.pdf ")).toBe("report.pdf");
    expect(cleanName("e\u0301te\u0301.txt")).toBe("\u00e9t\u00e9.txt");
    expect(cleanName("..hidden")).toBe("..hidden");
    expect(cleanName("%2e%2e%2fetc")).toBe("%2e%2e%2fetc");
    expect(nameProblem("名前 ✓.md")).toBeUndefined();
  });

  it("refuses traversal, separators, controls, invisible characters, device names and long names", () => {
    for (const bad of [
      "",
      ".",
      "..",
      "a/b",
      "a\\b",
      "x\u0000",
      "x\u001b[31m",
      "x\u0085",
      "evil\u202etxt.exe",
      "zero\u200bwidth",
      "NUL",
      "com1.txt",
      "LPT9",
      "a:b",
      "end.",
      "é".repeat(128),
    ]) {
      expect(nameProblem(bad.normalize("NFC").trim()), JSON.stringify(bad)).toBeDefined();
      expect(() => cleanName(bad)).toThrow();
    }
    expect(nameProblem("a".repeat(255))).toBeUndefined();
  });
});
