// bytesMessageSerializer: the fast path for a message that is one bytes field writes exactly the
// bytes ts-proto's generated serializer writes, for every length class of the varint; any other
// field set falls back to the generated one.
import { filev1 } from "@filemesh/contracts";
import { describe, expect, it } from "vitest";
import {
  bytesMessageSerializer,
  httpBodySerializer,
  roomyBytes,
  roomyPrefix,
} from "../src/grpc/bytes-message.js";

const generated = filev1.FileServiceService.readFile.responseSerialize;
const fast = bytesMessageSerializer(generated, 2, "data");

describe("bytesMessageSerializer", () => {
  it.each([1, 127, 128, 300, 16_383, 16_384, 256 * 1024, 2_097_151, 2_097_152, 4 * 1024 * 1024 + 3])(
    "writes a %i-byte data message as ts-proto does",
    (n) => {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i += 997) data[i] = i & 255;
      data[n - 1] = 7;
      const msg = { data };
      const out = fast(msg);
      expect(out.equals(generated(msg))).toBe(true);
      expect(filev1.ReadFileResponse.decode(out).data?.equals(data)).toBe(true);
    },
  );

  it("falls back for the file message, an empty data field and both set", () => {
    const file = filev1.File.fromPartial({ id: "f", name: "a.txt", sizeBytes: "3" });
    for (const msg of [{ file }, { data: Buffer.alloc(0) }, { file, data: Buffer.from("abc") }, {}]) {
      expect(fast(msg).equals(generated(msg))).toBe(true);
    }
    expect(filev1.ReadFileResponse.decode(fast({ file })).file?.name).toBe("a.txt");
  });

  it("writes HttpBody chunks as ts-proto does, without it unless extensions are set or data is empty", () => {
    const generatedHttpBody = filev1.FileServiceService.getFileContent.responseSerialize;
    let fellBack = 0;
    const httpBody = httpBodySerializer((m: Parameters<typeof generatedHttpBody>[0]) => {
      fellBack++;
      return generatedHttpBody(m);
    });
    const any = { typeUrl: "type.googleapis.com/x", value: Buffer.from("v") };
    for (const n of [1, 127, 128, 16_384, 300_000]) {
      const data = Buffer.alloc(n, 5);
      for (const contentType of ["", "text/plain", "x/é".repeat(50)]) {
        const msg = { contentType, data, extensions: [] };
        expect(httpBody(msg).equals(generatedHttpBody(msg))).toBe(true);
      }
    }
    expect(fellBack).toBe(0);
    for (const msg of [
      { contentType: "text/plain", data: Buffer.from("ab"), extensions: [any] },
      { contentType: "text/plain", data: Buffer.alloc(0), extensions: [] },
    ]) {
      expect(httpBody(msg).equals(generatedHttpBody(msg))).toBe(true);
    }
    expect(fellBack).toBe(2);
  });

  it("writes a roomyBytes chunk's message around it, copying nothing, as ts-proto would", () => {
    const generatedHttpBody = filev1.FileServiceService.getFileContent.responseSerialize;
    const httpBody = httpBodySerializer(generatedHttpBody);
    for (const n of [1, 127, 128, 16_384, 256 * 1024, 4 * 1024 * 1024]) {
      const chunk = roomyBytes(n);
      for (let i = 0; i < n; i++) chunk[i] = (i * 31) & 255;
      const copy = Buffer.from(chunk);
      for (const data of [chunk, roomyPrefix(chunk, Math.max(1, n >> 1))]) {
        const out = fast({ data });
        expect(out.equals(generated({ data: Buffer.from(data) }))).toBe(true);
        // A view over the chunk's own memory, ending where the data ends: no copy.
        expect(out.buffer).toBe(chunk.buffer);
        expect(out.byteOffset + out.length).toBe(data.byteOffset + data.length);
        const body = { contentType: "", data, extensions: [] };
        const framed = httpBody(body);
        expect(framed.equals(generatedHttpBody({ ...body, data: Buffer.from(data) }))).toBe(true);
        expect(framed.buffer).toBe(chunk.buffer);
      }
      expect(chunk.equals(copy)).toBe(true); // the room in front, never the data, was written
    }
  });

  it("copies a chunk without its room: another view of it, a content type too long for the room", () => {
    // Whether `a` and `b` share memory (small buffers may come from the same pool).
    const overlap = (a: Uint8Array, b: Uint8Array) =>
      a.buffer === b.buffer &&
      a.byteOffset < b.byteOffset + b.length &&
      b.byteOffset < a.byteOffset + a.length;
    const chunk = roomyBytes(1000).fill(9);
    const inner = chunk.subarray(10); // the bytes in front of it are data, not room
    const before = Buffer.from(chunk);
    const out = fast({ data: inner });
    expect(overlap(out, chunk)).toBe(false);
    expect(out.equals(generated({ data: inner }))).toBe(true);
    expect(chunk.equals(before)).toBe(true);
    const generatedHttpBody = filev1.FileServiceService.getFileContent.responseSerialize;
    const body = { contentType: "application/octet-stream", data: chunk, extensions: [] };
    const framed = httpBodySerializer(generatedHttpBody)(body);
    expect(overlap(framed, chunk)).toBe(false);
    expect(framed.equals(generatedHttpBody(body))).toBe(true);
    expect(chunk.equals(before)).toBe(true);
    // An ordinary Buffer, pooled or not, is copied whatever lies before it.
    const plain = Buffer.alloc(100, 3);
    expect(overlap(fast({ data: plain }), plain)).toBe(false);
  });

  it("takes only one-byte tags", () => {
    expect(() => bytesMessageSerializer(generated, 16, "data")).toThrow("field must be 1–15");
  });
});
