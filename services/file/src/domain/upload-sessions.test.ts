import { MAX_PARTS } from "@filemesh/kit/blob";
import { describe, expect, it } from "vitest";
import { rangeOf } from "./serve.js";
import { planParts } from "./upload-sessions.js";

const MiB = 1024 * 1024;

describe("part planning", () => {
  it("clamps the part size to the store's minimum and keeps at most 10,000 parts", () => {
    expect(planParts(10n * BigInt(MiB), 1, 5 * MiB)).toEqual({ partBytes: BigInt(5 * MiB), partCount: 2 });
    expect(planParts(0n, 8 * MiB, 1)).toEqual({ partBytes: BigInt(8 * MiB), partCount: 1 });
    expect(planParts(3000n, 1000, 1)).toEqual({ partBytes: 1000n, partCount: 3 });
    const huge = planParts(200_000n * BigInt(MiB), 5 * MiB, 5 * MiB);
    expect(huge.partCount).toBeLessThanOrEqual(MAX_PARTS);
    expect(huge.partBytes * BigInt(huge.partCount)).toBeGreaterThanOrEqual(200_000n * BigInt(MiB));
  });
});

describe("download ranges", () => {
  it("reads offset/length against the size", () => {
    expect(rangeOf("", "", "100")).toEqual({ offset: 0, length: 100 });
    expect(rangeOf("10", "0", "100")).toEqual({ offset: 10, length: 90 });
    expect(rangeOf("90", "50", "100")).toEqual({ offset: 90, length: 10 });
    expect(rangeOf("100", "", "100")).toEqual({ offset: 100, length: 0 });
    expect(() => rangeOf("101", "", "100")).toThrow(/past the end/);
    expect(() => rangeOf("-1", "", "100")).toThrow(/non-negative/);
  });
});
