import { describe, expect, it } from "vitest";
import { attachmentDisposition, checkKey, newObjectKey, PartFiller, thumbnailKey } from "./blob-store.js";

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

describe("PartFiller", () => {
  it("copies chunks into whole parts, reusing a released part's buffer, and leaves the rest", () => {
    const filler = new PartFiller(10);
    const bytes = Buffer.from(Array.from({ length: 37 }, (_, i) => i));
    const parts: Buffer[] = [];
    for (const [from, to] of [
      [0, 3],
      [3, 15],
      [15, 16],
      [16, 36],
      [36, 37],
    ]) {
      const chunk = Buffer.from(bytes.subarray(from, to));
      for (const part of filler.push(chunk)) {
        parts.push(Buffer.from(part)); // what the part held when complete
        expect(part.length).toBe(10);
        filler.release(part);
        chunk.fill(0xff); // a chunk is copied: changing it later changes no part
      }
    }
    expect(filler.pending).toBe(7);
    const rest = filler.rest();
    expect(Buffer.concat([...parts, rest]).equals(bytes)).toBe(true);
    expect(filler.pending).toBe(0);
    expect(filler.rest().length).toBe(0);
  });

  it("hands a released buffer out again, and never one that is not released", () => {
    const filler = new PartFiller(4);
    const [a] = filler.push(Buffer.from("abcd"));
    const [b] = filler.push(Buffer.from("efgh"));
    expect(b).not.toBe(a); // a is not released: still being stored
    filler.release(a!);
    const [c] = filler.push(Buffer.from("ijkl"));
    expect(c).toBe(a);
    expect(c!.toString()).toBe("ijkl");
    expect(b!.toString()).toBe("efgh");
    filler.release(filler.rest()); // a short (or empty) rest is never taken back
    const [d] = filler.push(Buffer.from("mnop"));
    expect(d).not.toBe(a);
    expect(d).not.toBe(b);
  });
});
