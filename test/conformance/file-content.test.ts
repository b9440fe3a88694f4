// REST conformance: the raw-body file routes (uploads, parts, downloads, link downloads)
// through the gateway (fs driver): bytes, download headers, size cap, hostile names.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient, parseDisposition, sha } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

const CAP = 256 * 1024;
let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    serviceEnv: { file: { MAX_RAW_UPLOAD_BYTES: String(CAP) } },
  });
});
afterAll(() => t?.stop());

const { signup, call, raw, unexercised } = fileClient(() => t.base);
type Raw = Awaited<ReturnType<typeof raw>>;
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), randomBytes(200)]);

/** The download headers docs/reliability.md asks for, for a file called `name`. */
function expectDownloadHeaders(res: Raw, name: string, contentType: string) {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe(contentType);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("content-length")).toBe(String(res.bytes.length));
  const value = res.headers.get("content-disposition") ?? "";
  expect(value).toMatch(/^[\x20-\x7e]+$/);
  const { type, params } = parseDisposition(value);
  expect(type).toBe("attachment");
  expect([...params.keys()].sort()).toEqual(["filename", "filename*"]);
  expect(params.get("filename")).toMatch(/^"[\x20-\x7e]*"$/);
  expect(params.get("filename")?.slice(1, -1)).not.toMatch(/["\\]/);
  const extended = params.get("filename*") ?? "";
  expect(extended.startsWith("UTF-8''")).toBe(true);
  expect(decodeURIComponent(extended.slice("UTF-8''".length))).toBe(name);
  expect(res.headers.get("set-cookie")).toBeNull();
}

describe("raw file routes", () => {
  it("upload and download: bytes, ranges, sniffed type, attachment headers", async () => {
    const a = await signup();
    const data = randomBytes(100_000);
    const up = await raw("POST", `/v1/files:upload?name=blob.bin&sha256=${sha(data)}`, a.auth, data);
    expect(up.status).toBe(200);
    const file = JSON.parse(up.bytes.toString());
    expect(file).toMatchObject({
      name: "blob.bin",
      kind: "FILE",
      state: "READY",
      sizeBytes: "100000",
      sha256: sha(data),
      contentType: "application/octet-stream",
      ownerId: a.id,
    });
    const whole = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
    expectDownloadHeaders(whole, "blob.bin", "application/octet-stream");
    expect(sha(whole.bytes)).toBe(sha(data));
    const part = await raw("GET", `/v1/files/${file.id}/content?offset=10&length=20`, a.auth);
    expectDownloadHeaders(part, "blob.bin", "application/octet-stream");
    expect(part.bytes).toEqual(data.subarray(10, 30));
    const past = await raw("GET", `/v1/files/${file.id}/content?offset=100001`, a.auth);
    expect([past.status, reasonOf(JSON.parse(past.bytes.toString()))]).toEqual([400, "OFFSET_OUT_OF_RANGE"]);
    expect(past.headers.get("content-disposition")).toBeNull();
    const b = await signup();
    expect((await raw("GET", `/v1/files/${file.id}/content`, b.auth)).status).toBe(404);
    expect((await raw("GET", `/v1/files/${file.id}/content`, {})).status).toBe(401);
    // The type comes from the bytes, never from the client's claim.
    const claimed = await fetch(`${t.base}/v1/files:upload?name=page.png`, {
      method: "POST",
      headers: { ...a.auth, "content-type": "text/html" },
      body: PNG,
    });
    const png = JSON.parse(await claimed.text());
    expect(png.contentType).toBe("image/png");
    expectDownloadHeaders(await raw("GET", `/v1/files/${png.id}/content`, a.auth), "page.png", "image/png");
    const html = await raw(
      "POST",
      "/v1/files:upload?name=x.html",
      a.auth,
      Buffer.from("<html><script>1</script>"),
    );
    const served = await raw("GET", `/v1/files/${JSON.parse(html.bytes.toString()).id}/content`, a.auth);
    expectDownloadHeaders(served, "x.html", "text/plain; charset=utf-8");
  });

  // The cap is set on the file service started here, so not against CONFORMANCE_BASE_URL.
  it.skipIf(Boolean(process.env.CONFORMANCE_BASE_URL))(
    "a wrong checksum or an over-cap body (413) stores nothing",
    async () => {
      const a = await signup();
      const data = randomBytes(1000);
      const wrong = await raw(
        "POST",
        `/v1/files:upload?name=bad&sha256=${sha(Buffer.from("x"))}`,
        a.auth,
        data,
      );
      expect([wrong.status, reasonOf(JSON.parse(wrong.bytes.toString()))]).toEqual([
        400,
        "CHECKSUM_MISMATCH",
      ]);
      const big = await raw("POST", "/v1/files:upload?name=big.bin", a.auth, randomBytes(CAP + 1));
      expect(big.status).toBe(413); // RESOURCE_EXHAUSTED mapped by reason (Envoy: 429)
      expect(reasonOf(JSON.parse(big.bytes.toString()))).toBe("UPLOAD_TOO_LARGE");
      const exact = await raw("POST", "/v1/files:upload?name=exact.bin", a.auth, randomBytes(CAP));
      expect(exact.status).toBe(200);
      const home = JSON.parse(exact.bytes.toString()).parentId;
      const names = (await call("GET", `/v1/files?parentId=${home}`, a.auth)).body.files.map(
        (f: { name: string }) => f.name,
      );
      expect(names).toEqual(["exact.bin"]);
      expect((await call("GET", "/v1/usage", a.auth)).body).toMatchObject({
        usedBytes: String(CAP),
        reservedBytes: "0",
      });
    },
  );

  it("hostile file names never break or add a header", async () => {
    const a = await signup();
    const accepted = [
      "naïve résumé.txt",
      "evil.html; filename=x.exe",
      "a'b (1) 100% =x.txt",
      "日本語のファイル.pdf",
      "semi;colon,comma&amp.txt",
      `${"é".repeat(126)}.t`,
    ];
    for (const name of accepted) {
      const up = await raw(
        "POST",
        `/v1/files:upload?name=${encodeURIComponent(name)}`,
        a.auth,
        Buffer.from(name),
      );
      expect(up.status, name).toBe(200);
      const file = JSON.parse(up.bytes.toString());
      expect(file.name).toBe(name);
      const down = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
      expectDownloadHeaders(down, name, "text/plain; charset=utf-8");
      expect(down.bytes.toString()).toBe(name);
    }
    const refused = [
      'a"b.txt',
      "line\r\nSet-Cookie: s=1",
      "tab\there",
      "../../etc/passwd",
      "x\u202etxt.exe",
      "CON",
    ];
    for (const name of refused) {
      const up = await raw(
        "POST",
        `/v1/files:upload?name=${encodeURIComponent(name)}`,
        a.auth,
        Buffer.from("x"),
      );
      expect([up.status, reasonOf(JSON.parse(up.bytes.toString()))], name).toEqual([400, "INVALID_NAME"]);
      expect(up.headers.get("set-cookie")).toBeNull();
    }
  });

  it("parts: exact sizes only", async () => {
    const a = await signup();
    const s = await call("POST", "/v1/uploads", a.auth, {
      name: "p.bin",
      sizeBytes: "1500",
      partSizeBytes: "1000",
    });
    const short = await raw("PUT", `/v1/uploads/${s.body.id}/parts/1`, a.auth, randomBytes(999));
    expect([short.status, reasonOf(JSON.parse(short.bytes.toString()))]).toEqual([400, "PART_SIZE_MISMATCH"]);
    const ok = await raw("PUT", `/v1/uploads/${s.body.id}/parts/2`, a.auth, randomBytes(500));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.bytes.toString())).toMatchObject({ part: { partNumber: 2, sizeBytes: "500" } });
    const none = await raw("PUT", `/v1/uploads/${s.body.id}/parts/3`, a.auth, randomBytes(1));
    expect([none.status, reasonOf(JSON.parse(none.bytes.toString()))]).toEqual([400, "INVALID_PART_NUMBER"]);
  });

  it("link downloads: attachment headers, the download limit", async () => {
    const a = await signup();
    const name = "report; v2 (final) ñ.txt";
    const up = await raw(
      "POST",
      `/v1/files:upload?name=${encodeURIComponent(name)}`,
      a.auth,
      Buffer.from("via link"),
    );
    const file = JSON.parse(up.bytes.toString());
    // Two downloads: the whole file, then a range (every served call counts).
    const link = await call("POST", `/v1/files/${file.id}/links`, a.auth, { maxDownloads: 2 });
    const content = await raw("GET", `/v1/links/${link.body.token}/content`, {});
    expectDownloadHeaders(content, name, "text/plain; charset=utf-8");
    expect(content.bytes.toString()).toBe("via link");
    const ranged = await raw("GET", `/v1/links/${link.body.token}/content?offset=4`, {});
    expectDownloadHeaders(ranged, name, "text/plain; charset=utf-8");
    expect(ranged.bytes.toString()).toBe("link");
    const spent = await raw("GET", `/v1/links/${link.body.token}/content`, {});
    expect([spent.status, reasonOf(JSON.parse(spent.bytes.toString()))]).toEqual([
      429,
      "DOWNLOAD_LIMIT_REACHED",
    ]);
    expect(spent.headers.get("content-disposition")).toBeNull();
    const unknown = await raw("GET", "/v1/links/not-a-token/content", {});
    expect([unknown.status, reasonOf(JSON.parse(unknown.bytes.toString()))]).toEqual([404, "LINK_NOT_FOUND"]);
  });

  it("thumbnails: none until the processor made one; readers only", async () => {
    const a = await signup();
    const up = await raw("POST", "/v1/files:upload?name=pic.png", a.auth, PNG);
    const file = JSON.parse(up.bytes.toString());
    const none = await raw("GET", `/v1/files/${file.id}/thumbnail`, a.auth);
    expect([none.status, reasonOf(JSON.parse(none.bytes.toString()))]).toEqual([404, "THUMBNAIL_NOT_FOUND"]);
    expect(none.headers.get("content-disposition")).toBeNull();
    const b = await signup();
    const hidden = await raw("GET", `/v1/files/${file.id}/thumbnail`, b.auth);
    expect([hidden.status, reasonOf(JSON.parse(hidden.bytes.toString()))]).toEqual([404, "FILE_NOT_FOUND"]);
    const anonymous = await raw("GET", `/v1/files/${file.id}/thumbnail`, {});
    expect(anonymous.status).toBe(401);
    const folder = await call("POST", "/v1/folders", a.auth, { name: "pics" });
    const ofFolder = await raw("GET", `/v1/files/${folder.body.id}/thumbnail`, a.auth);
    expect([ofFolder.status, reasonOf(JSON.parse(ofFolder.bytes.toString()))]).toEqual([400, "NOT_A_FILE"]);
  });

  it("exercises every raw-body binding of FileService", () => {
    expect(unexercised((b) => b.raw)).toEqual([]);
  });
});
