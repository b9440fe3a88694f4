import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { declaredSha256, meter, sniff } from "./content.js";

async function* from(...chunks: string[]) {
  for (const c of chunks) yield Buffer.from(c);
}

describe("content", () => {
  it("sniffs the type from magic numbers, not names", () => {
    expect(sniff(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe("image/png");
    expect(sniff(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("image/jpeg");
    expect(sniff(Buffer.from("%PDF-1.7"))).toBe("application/pdf");
    expect(sniff(Buffer.from("RIFF\u0000\u0000\u0000\u0000WEBPVP8 "))).toBe("image/webp");
    expect(sniff(Buffer.from("plain text, ünïcode\n"))).toBe("text/plain; charset=utf-8");
    expect(sniff(Buffer.from("<html><script>alert(1)</script>"))).toBe("text/plain; charset=utf-8");
    expect(sniff(Buffer.from([0, 1, 2, 3, 0xfe]))).toBe("application/octet-stream");
    expect(sniff(Buffer.alloc(0))).toBe("application/octet-stream");
  });

  it("checks declared SHA-256s", () => {
    expect(declaredSha256("")).toBe("");
    expect(declaredSha256("AB".repeat(32))).toBe("ab".repeat(32));
    expect(() => declaredSha256("xyz")).toThrow(/64 hex/);
  });

  it("counts, hashes and stops past the limit", async () => {
    const m = meter({ limit: 11n });
    const out: Buffer[] = [];
    for await (const c of m.pass(from("hello ", "world"))) out.push(c);
    expect(Buffer.concat(out).toString()).toBe("hello world");
    expect(m.result()).toMatchObject({
      sizeBytes: 11n,
      sha256: createHash("sha256").update("hello world").digest("hex"),
    });
    const small = meter({ limit: 10n });
    await expect(
      (async () => {
        for await (const _ of small.pass(from("hello ", "world"))) {
        }
      })(),
    ).rejects.toMatchObject({ reason: "UPLOAD_TOO_LARGE" });
  });
});
