import { describe, expect, it } from "vitest";
import { attachmentDisposition, checkKey, newObjectKey, thumbnailKey } from "./blob-store.js";

describe("object keys", () => {
  it("are generated in the ab/cd/<uuid> shape, spread over prefixes", () => {
    const keys = Array.from({ length: 200 }, newObjectKey);
    for (const k of keys) expect(checkKey(k)).toBe(k);
    expect(new Set(keys.map((k) => k.slice(0, 2))).size).toBeGreaterThan(50);
  });

  it("derive thumbnail keys of the same shape, deterministically", () => {
    const k = newObjectKey();
    expect(checkKey(thumbnailKey(k))).toBe(thumbnailKey(k));
    expect(thumbnailKey(k)).not.toBe(k);
  });

  it("make attachment headers nothing can be injected into", () => {
    const h = attachmentDisposition('a"b\r\nSet-Cookie: x=1;\u202e.txt');
    expect(h).not.toMatch(/[\r\n]/);
    expect(h).toMatch(/^attachment; filename="a_b__Set-Cookie: x=1;_\.txt"; filename\*=UTF-8''/);
    expect(attachmentDisposition("")).toMatch(/filename="download"/);
  });
});
