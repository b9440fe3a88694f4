import { AppError, Code, type Reason } from "@filemesh/kit";
import { describe, expect, it } from "vitest";
import {
  asTusError,
  checkResumable,
  parseChecksum,
  parseMetadata,
  parseNonNegative,
  type TusError,
} from "./protocol.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const statusOf = (fn: () => unknown) => {
  try {
    fn();
    return 0;
  } catch (err) {
    return (err as TusError).status;
  }
};

describe("tus headers", () => {
  it("lengths and offsets are non-negative decimal integers", () => {
    expect(parseNonNegative("Upload-Length", "0")).toBe(0n);
    expect(parseNonNegative("Upload-Length", "123456789012")).toBe(123456789012n);
    expect(parseNonNegative("Upload-Length", undefined)).toBeUndefined();
    for (const bad of ["-1", "01", "1e3", "0x10", "", " ", "1.5", "9".repeat(19), "+1"]) {
      expect(
        statusOf(() => parseNonNegative("Upload-Length", bad)),
        bad,
      ).toBe(400);
    }
  });

  it("metadata: base64 UTF-8 values, keys without values, no repeats or junk", () => {
    const md = parseMetadata(`filename ${b64("Отчёт 報告.pdf")},parentId ${b64("p-1")},is_confidential`);
    expect(md.get("filename")).toBe("Отчёт 報告.pdf");
    expect(md.get("parentId")).toBe("p-1");
    expect(md.get("is_confidential")).toBe("");
    expect(parseMetadata(undefined).size).toBe(0);
    for (const bad of [
      `filename ${b64("a")},filename ${b64("b")}`,
      "filename not*base64",
      `filename ${b64("a")} extra`,
      `kéy ${b64("a")}`,
      `bad ${Buffer.from([0xff, 0xfe]).toString("base64")}`,
    ]) {
      expect(
        statusOf(() => parseMetadata(bad)),
        bad,
      ).toBe(400);
    }
  });

  it("checksums: sha256 with a 32-byte base64 digest only", () => {
    const digest = Buffer.alloc(32, 7);
    expect(parseChecksum(`sha256 ${digest.toString("base64")}`)).toEqual(digest);
    expect(parseChecksum(undefined)).toBeUndefined();
    expect(statusOf(() => parseChecksum(`md5 ${Buffer.alloc(16).toString("base64")}`))).toBe(400);
    expect(statusOf(() => parseChecksum(`sha256 ${Buffer.alloc(31).toString("base64")}`))).toBe(400);
    expect(statusOf(() => parseChecksum("sha256"))).toBe(400);
  });

  it("Tus-Resumable must be 1.0.0 (412 with Tus-Version otherwise)", () => {
    expect(() => checkResumable("1.0.0")).not.toThrow();
    for (const v of [undefined, "0.2.2", ""]) {
      try {
        checkResumable(v);
        expect.unreachable();
      } catch (err) {
        expect((err as TusError).status).toBe(412);
        expect((err as TusError).headers["Tus-Version"]).toBe("1.0.0");
      }
    }
  });

  it("mesh errors map to tus statuses", () => {
    const s = (code: Code, reason: Reason) => asTusError(new AppError(code, reason, "m"))?.status;
    expect(s(Code.INVALID_ARGUMENT, "CHECKSUM_MISMATCH")).toBe(460);
    expect(s(Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED")).toBe(413);
    expect(s(Code.RESOURCE_EXHAUSTED, "RATE_LIMITED")).toBe(429);
    expect(s(Code.FAILED_PRECONDITION, "UPLOAD_EXPIRED")).toBe(410);
    expect(s(Code.UNAUTHENTICATED, "MISSING_TOKEN")).toBe(401);
    expect(s(Code.NOT_FOUND, "FILE_NOT_FOUND")).toBe(404);
    expect(asTusError(new Error("boom"))).toBeUndefined();
    expect(asTusError(new AppError(Code.INTERNAL, "INTERNAL", "m"))).toBeUndefined();
  });

  it("answers a store fault as a gRPC call would: 503 / 409 with Retry-After, never 500", () => {
    const pgError = (message: string, code?: string) =>
      Object.assign(new Error(message), code ? { code } : {});
    const away = asTusError(pgError("Connection terminated unexpectedly"));
    expect([away?.status, away?.reason, away?.headers["Retry-After"]]).toEqual([
      503,
      "DATABASE_UNAVAILABLE",
      "1",
    ]);
    const busy = asTusError(pgError("timeout exceeded when trying to connect"));
    expect([busy?.status, busy?.reason]).toEqual([503, "DATABASE_BUSY"]);
    expect(asTusError(pgError("terminating connection due to administrator command", "57P01"))?.status).toBe(
      503,
    );
    expect(asTusError(pgError("could not serialize access", "40001"))?.reason).toBe("CONFLICT_RETRY");
  });
});
