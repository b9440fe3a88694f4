// The data plane (issue 15, docs/architecture.md "Data plane"): GET /v1/files/{id}/content
// through a transfer ticket, redirect vs stream, the data URL's Range/ETag/304, tickets that
// are single-purpose, and an attacker at the data endpoint (fs driver).
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { filev1 } from "@filemesh/contracts";
import { call as grpc } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient, parseDisposition, sha } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

const EXPIRY_MS = 3000;
let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    serviceEnv: { file: { TRANSFER_TICKET_EXPIRY: `${EXPIRY_MS}ms` } },
  });
});
afterAll(() => t?.stop());

const { signup, call, raw } = fileClient(() => t.base);
type H = Record<string, string>;

async function upload(auth: H, name: string, data: Buffer) {
  const up = await raw("POST", `/v1/files:upload?name=${encodeURIComponent(name)}`, auth, data);
  expect(up.status).toBe(200);
  return JSON.parse(up.bytes.toString()) as { id: string; sha256: string };
}

/** GET without following redirects. */
async function get(path: string, headers: H = {}) {
  const res = await fetch(`${t.base}${path}`, { headers, redirect: "manual" });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** The data URL of a file (redirect=true), checked. */
async function dataUrl(auth: H, fileId: string, query = ""): Promise<string> {
  const res = await get(`/v1/files/${fileId}/content?redirect=true${query}`, auth);
  expect(res.status).toBe(307);
  expect(res.bytes.length).toBe(0);
  expect(res.headers.get("cache-control")).toBe("no-store");
  const location = res.headers.get("location") ?? "";
  expect(location).toMatch(/^\/v1\/data\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  return location;
}

/** A ticket's claims, decoded (not verified), and the ticket re-encoded with other claims. */
const claimsOf = (url: string) =>
  JSON.parse(Buffer.from(url.split("/").pop()!.split(".")[0]!, "base64url").toString());
const withClaims = (url: string, claims: object) => {
  const sig = url.split(".").pop();
  return `/v1/data/${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
};

/** A raw HTTP/1.1 request to the data endpoint itself (no gateway in front). */
function direct(path: string, method = "GET", headers: H = {}, body?: Buffer) {
  const port = (t.mesh?.runtimes.file?.[0] as { httpPort?: number } | undefined)?.httpPort;
  return new Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }>(
    (resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c) => parts.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(parts) }),
        );
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

const reason = (bytes: Buffer) => reasonOf(JSON.parse(bytes.toString()));

describe("data plane: downloads", () => {
  it("streams by default and redirects on request; the data URL serves Range, ETag and 304", async () => {
    const a = await signup();
    const data = randomBytes(70_000);
    const file = await upload(a.auth, "report.bin", data);

    // Streamed through the ticket: same bytes and headers as ever, plus the version's ETag.
    const streamed = await get(`/v1/files/${file.id}/content`, a.auth);
    expect(streamed.status).toBe(200);
    expect(sha(streamed.bytes)).toBe(file.sha256);
    expect(streamed.headers.get("etag")).toBe(`"${file.sha256}"`);
    expect(streamed.headers.get("content-length")).toBe("70000");
    // The REST route reads no Range header (ARCHITECTURE §7): offset/length only.
    const ranged = await get(`/v1/files/${file.id}/content?offset=5&length=10`, {
      ...a.auth,
      range: "bytes=0-0",
    });
    expect([ranged.status, ranged.bytes]).toEqual([200, data.subarray(5, 15)]);

    const url = await dataUrl(a.auth, file.id);
    const whole = await get(url);
    expect(whole.status).toBe(200);
    expect(whole.bytes.equals(data)).toBe(true);
    expect(whole.headers.get("content-type")).toBe("application/octet-stream");
    expect(whole.headers.get("x-content-type-options")).toBe("nosniff");
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(parseDisposition(whole.headers.get("content-disposition") ?? "").type).toBe("attachment");
    const etag = whole.headers.get("etag");
    expect(etag).toBe(`"${file.sha256}"`);

    const part = await get(url, { range: "bytes=100-199" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/70000");
    expect(part.bytes.equals(data.subarray(100, 200))).toBe(true);
    const tail = await get(url, { range: "bytes=-10" });
    expect([tail.status, tail.bytes.equals(data.subarray(-10))]).toEqual([206, true]);
    const past = await get(url, { range: "bytes=70000-" });
    expect([past.status, past.headers.get("content-range")]).toEqual([416, "bytes */70000"]);
    const cached = await get(url, { "if-none-match": etag! });
    expect([cached.status, cached.bytes.length]).toEqual([304, 0]);
    // A stale If-Range gets the whole body, not a range of something else.
    const stale = await get(url, { range: "bytes=0-9", "if-range": '"other"' });
    expect([stale.status, stale.bytes.length]).toEqual([200, 70000]);

    // A window (offset/length) is the ticket's whole world: ranges are inside it.
    const win = await dataUrl(a.auth, file.id, "&offset=1000&length=500");
    const w = await get(win, { range: "bytes=0-9" });
    expect([w.status, w.headers.get("content-range")]).toEqual([206, "bytes 0-9/500"]);
    expect(w.bytes.equals(data.subarray(1000, 1010))).toBe(true);
    expect((await get(win, { range: "bytes=500-" })).status).toBe(416);

    // Errors of the control path stay as they were, redirect or not.
    const b = await signup();
    const denied = await get(`/v1/files/${file.id}/content?redirect=true`, b.auth);
    expect(denied.status).toBe(404);
    expect(denied.headers.get("location")).toBeNull();
    expect((await get(`/v1/files/${file.id}/content?redirect=true`)).status).toBe(401);
    const bad = await get(`/v1/files/${file.id}/content?redirect=maybe`, a.auth);
    expect(bad.status).toBe(400);
  });

  it("hostile names reach the data URL's Content-Disposition only as a safe attachment", async () => {
    const a = await signup();
    for (const name of ["evil.html; filename=x.exe", "naïve résumé.txt", "a'b (1) 100% =x.txt"]) {
      const file = await upload(a.auth, name, Buffer.from("<html><script>1</script>"));
      const res = await get(await dataUrl(a.auth, file.id));
      expect(res.status).toBe(200);
      const value = res.headers.get("content-disposition") ?? "";
      expect(value).toMatch(/^[\x20-\x7e]+$/);
      const { type, params } = parseDisposition(value);
      expect(type).toBe("attachment");
      expect([...params.keys()].sort()).toEqual(["filename", "filename*"]);
      expect(decodeURIComponent((params.get("filename*") ?? "").slice("UTF-8''".length))).toBe(name);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });
});

describe("data plane: tickets are single-purpose", () => {
  it("a ticket for one object cannot read another; an altered ticket is refused", async () => {
    const a = await signup();
    const mine = await upload(a.auth, "mine.txt", Buffer.from("mine"));
    const b = await signup();
    const theirs = await upload(b.auth, "theirs.txt", Buffer.from("theirs, secret"));
    const url = await dataUrl(a.auth, mine.id);
    const other = claimsOf(await dataUrl(b.auth, theirs.id));
    const claims = claimsOf(url);
    expect(claims).toMatchObject({ d: "r", f: mine.id, p: a.id, o: 0, l: 4 });
    for (const forged of [
      withClaims(url, { ...claims, k: other.k, l: 14, s: 14 }), // another object
      withClaims(url, { ...claims, l: 1_000_000 }), // a wider window
      withClaims(url, { ...claims, e: claims.e + 3_600_000 }), // a longer life
      withClaims(url, { ...claims, k: "../../../../etc/passwd" }), // traversal in the key
      `${url.slice(0, -2)}AA`, // another signature
      url.split(".")[0]!, // no signature
    ]) {
      const res = await get(forged);
      const want = forged.includes(".") ? "TICKET_INVALID" : "TICKET_MALFORMED";
      expect([res.status, reason(res.bytes)], forged).toEqual([404, want]);
    }
    expect((await get(url)).bytes.toString()).toBe("mine");
  });

  it("a download ticket cannot upload; an expired ticket is refused", async () => {
    const a = await signup();
    const file = await upload(a.auth, "x.txt", Buffer.from("content"));
    const url = await dataUrl(a.auth, file.id);
    for (const method of ["PUT", "POST", "PATCH", "DELETE"]) {
      const body = method === "PUT" || method === "POST" ? Buffer.from("evil") : undefined;
      const res = await direct(url, method, { "content-type": "application/octet-stream" }, body);
      const want = method === "PUT" || method === "POST" ? "TICKET_WRONG_DIRECTION" : "METHOD_NOT_ALLOWED";
      expect([res.status, reason(res.bytes)], method).toEqual([405, want]);
      const via = await fetch(`${t.base}${url}`, { method, ...(body ? { body } : {}) });
      expect(via.status, method).toBe(405);
    }
    expect((await get(url)).bytes.toString()).toBe("content"); // unchanged
    await new Promise((r) => setTimeout(r, EXPIRY_MS + 200));
    const late = await get(url);
    expect([late.status, reason(late.bytes)]).toEqual([410, "TICKET_EXPIRED"]);
  });

  it("a revoked grant stops new tickets", async () => {
    const owner = await signup();
    const reader = await signup();
    const file = await upload(owner.auth, "shared.txt", Buffer.from("shared"));
    const g = await call("POST", `/v1/files/${file.id}/grants`, owner.auth, {
      subject: `user:${reader.id}`,
      role: "viewer",
    });
    expect(g.status).toBe(200);
    expect((await get(await dataUrl(reader.auth, file.id))).bytes.toString()).toBe("shared");
    expect((await call("DELETE", `/v1/files/${file.id}/grants/${g.body.id}`, owner.auth)).status).toBe(200);
    const after = await get(`/v1/files/${file.id}/content?redirect=true`, reader.auth);
    expect(after.status).toBe(404);
    expect(after.headers.get("location")).toBeNull();
    expect((await get(`/v1/files/${file.id}/content`, reader.auth)).status).toBe(404);
  });
});

describe("data plane: an attacker at the data endpoint", () => {
  it("no ticket, junk, traversal and forged identity headers get nothing", async () => {
    const forged = {
      authorization: "Bearer x",
      "x-filemesh-service": "file",
      "x-filemesh-user": "00000000-0000-0000-0000-000000000000",
      "x-forwarded-for": "127.0.0.1",
    };
    for (const path of [
      "/v1/data/",
      "/v1/data/x",
      "/v1/data/..%2F..%2Fetc%2Fpasswd",
      "/v1/data/../../etc/passwd",
      "/v1/data/a.b.c",
      `/v1/data/${"A".repeat(5000)}.x`,
      "/v1/data/objects/ab/cd",
    ]) {
      const res = await direct(path, "GET", forged);
      expect(res.status, path).toBe(404);
      expect(reason(res.bytes), path).toMatch(/^(TICKET_MALFORMED|TICKET_INVALID|ROUTE_NOT_FOUND)$/);
      if (path.includes("/../")) continue; // fetch resolves dot segments before sending
      const via = await get(path, forged);
      expect(via.status, path).toBe(404);
    }
    expect((await direct("/v1/files", "GET")).status).toBe(404);
  });

  it("a huge Range list costs nothing: the whole window is served once", async () => {
    const a = await signup();
    const data = randomBytes(4096);
    const file = await upload(a.auth, "r.bin", data);
    const url = await dataUrl(a.auth, file.id);
    const list = `bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(",")}`;
    const res = await get(url, { range: list });
    expect(res.status).toBe(200);
    expect(res.bytes.equals(data)).toBe(true);
    for (const range of ["bytes=5-1", "bytes=abc", "items=0-1", `bytes=0-${"9".repeat(40)}`]) {
      const odd = await get(url, { range });
      expect([odd.status, odd.bytes.length], range).toEqual([200, 4096]);
    }
  });
});

describe.skipIf(Boolean(process.env.CONFORMANCE_BASE_URL))("data plane: uploads", () => {
  const uploadTicket = async (auth: H, name: string, sha256 = "") => {
    const f = t.mesh!.file;
    return grpc(f.createUploadTicket.bind(f), { parentId: "", name, sha256, requestId: "" }, auth);
  };

  it("an upload ticket stores, verifies and commits once per body, and cannot read", async () => {
    const a = await signup();
    const data = randomBytes(5000);
    const tk = await uploadTicket(a.auth, "up.bin", sha(data));
    expect(tk.url).toMatch(/^\/v1\/data\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const res = await direct(tk.url, "PUT", { "content-type": "application/octet-stream" }, data);
    expect(res.status).toBe(200);
    const file = filev1.UploadFileResponse.decode(res.bytes).file!;
    expect([file.name, file.sizeBytes, file.sha256, file.ownerId]).toEqual([
      "up.bin",
      "5000",
      sha(data),
      a.id,
    ]);
    const down = await get(`/v1/files/${file.id}/content`, a.auth);
    expect(down.bytes.equals(data)).toBe(true);
    // Not a read ticket; a wrong body is refused and stores nothing.
    const read = await direct(tk.url, "GET");
    expect([read.status, reason(read.bytes)]).toEqual([405, "TICKET_WRONG_DIRECTION"]);
    const wrong = await direct(tk.url, "PUT", {}, Buffer.from("other bytes"));
    expect(wrong.status).toBe(400);
    const versions = await call("GET", `/v1/files/${file.id}/versions`, a.auth);
    expect(versions.body.versions).toHaveLength(1);
    // A forged folder in the claims is refused.
    const claims = claimsOf(tk.url);
    const forged = await direct(
      withClaims(tk.url, { ...claims, f: "00000000-0000-0000-0000-000000000000" }),
      "PUT",
      {},
      data,
    );
    expect([forged.status, reason(forged.bytes)]).toEqual([404, "TICKET_INVALID"]);
  });

  it("REST raw uploads go through an upload ticket; a revoked grant stops the commit", async () => {
    const owner = await signup();
    const writer = await signup();
    const folder = (await call("POST", "/v1/folders", owner.auth, { name: "shared", parentId: "" })).body;
    const g = await call("POST", `/v1/files/${folder.id}/grants`, owner.auth, {
      subject: `user:${writer.id}`,
      role: "editor",
    });
    expect(g.status).toBe(200);
    const ok = await raw(
      "POST",
      `/v1/files:upload?parentId=${folder.id}&name=a.txt`,
      writer.auth,
      Buffer.from("a"),
    );
    expect(ok.status).toBe(200);
    const tk = await uploadTicket(writer.auth, "late.txt");
    const f = t.mesh!.file;
    const mine = await grpc(
      f.createUploadTicket.bind(f),
      { parentId: folder.id, name: "late.txt", sha256: "", requestId: "" },
      writer.auth,
    );
    expect(tk.url).not.toBe(mine.url);
    expect((await call("DELETE", `/v1/files/${folder.id}/grants/${g.body.id}`, owner.auth)).status).toBe(200);
    const late = await direct(mine.url, "PUT", {}, Buffer.from("late"));
    expect(late.status).toBe(404); // the folder is no longer the writer's to see
    const names = (await call("GET", `/v1/files?parentId=${folder.id}`, owner.auth)).body.files.map(
      (x: { name: string }) => x.name,
    );
    expect(names).toEqual(["a.txt"]);
    expect((await call("GET", "/v1/usage", writer.auth)).body.reservedBytes).toBe("0");
  });
});
