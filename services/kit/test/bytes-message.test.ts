// bytesMessageSerializer: the fast path for a message that is one bytes field writes exactly the
// bytes ts-proto's generated serializer writes, for every length class of the varint; any other
// field set falls back to the generated one.
import { filev1 } from "@filemesh/contracts";
import { describe, expect, it } from "vitest";
import { bytesMessageSerializer, httpBodySerializer } from "../src/grpc/bytes-message.js";

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

  it("takes only one-byte tags", () => {
    expect(() => bytesMessageSerializer(generated, 16, "data")).toThrow("field must be 1–15");
  });
});
