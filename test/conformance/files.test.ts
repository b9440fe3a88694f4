// REST conformance: the file routes of ARCHITECTURE.md §7 through the gateway (fs driver).
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file"] });
});
afterAll(() => t?.stop());

type H = Record<string, string>;
const PASSWORD = "a long rest passphrase";
async function signup(): Promise<{ id: string; auth: H }> {
  const email = `files-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const reg = await rest(t.base, "POST", "/v1/auth:register", {
    email,
    password: PASSWORD,
    displayName: "F",
  });
  const login = await rest(t.base, "POST", "/v1/auth:login", { email, password: PASSWORD });
  return { id: reg.body.user.id, auth: { authorization: `Bearer ${login.body.accessToken}` } };
}
const call = (method: string, path: string, auth: H = {}, body?: unknown) =>
  rest(t.base, method, path, body, auth);
const raw = async (method: string, path: string, auth: H, body?: Uint8Array) => {
  const init: RequestInit = { method, headers: { ...auth, "content-type": "application/octet-stream" } };
  if (body) init.body = body;
  const res = await fetch(`${t.base}${path}`, init);
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
};
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("file routes", () => {
  it("folders: create, get, list, rename with etag, copy, errors", async () => {
    const a = await signup();
    const made = await call("POST", "/v1/folders", a.auth, { name: "Docs" });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ name: "Docs", kind: "FOLDER", state: "READY", ownerId: a.id });
    const id = made.body.id;
    expect((await call("GET", `/v1/files/${id}`, a.auth)).body.etag).toBe(made.body.etag);
    const list = await call("GET", `/v1/files?parentId=${made.body.parentId}&pageSize=10`, a.auth);
    expect(list.status).toBe(200);
    expect(list.body.files.map((f: { name: string }) => f.name)).toEqual(["Docs"]);
    expect((await call("POST", "/v1/folders", a.auth, { name: "Docs" })).status).toBe(409);
    const bad = await call("POST", "/v1/folders", a.auth, { name: "../x" });
    expect(bad.status).toBe(400);
    expect(reasonOf(bad.body)).toBe("INVALID_NAME");
    const stale = await call("PATCH", `/v1/files/${id}?updateMask=name`, a.auth, {
      name: "New",
      etag: "stale",
    });
    expect(stale.status).toBe(412); // FAILED_PRECONDITION mapped by reason (Envoy: 400)
    expect(reasonOf(stale.body)).toBe("ETAG_MISMATCH");
    const renamed = await call("PATCH", `/v1/files/${id}?updateMask=name`, a.auth, {
      name: "New",
      etag: made.body.etag,
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("New");
    const copy = await call("POST", `/v1/files/${id}:copy`, a.auth, { name: "Copy" });
    expect(copy.status).toBe(200);
    expect(copy.body.name).toBe("Copy");
    const b = await signup();
    expect((await call("GET", `/v1/files/${id}`, b.auth)).status).toBe(404);
    expect((await call("GET", `/v1/files/${id}`)).status).toBe(401);
  });

  it("raw upload, content with offset/length, versions, usage, download URL on fs", async () => {
    const a = await signup();
    const data = randomBytes(100_000);
    const up = await raw("POST", `/v1/files:upload?name=blob.bin&sha256=${sha(data)}`, a.auth, data);
    expect(up.status).toBe(200);
    const file = JSON.parse(up.bytes.toString());
    expect(file).toMatchObject({ name: "blob.bin", kind: "FILE", sizeBytes: "100000", sha256: sha(data) });
    const whole = await raw("GET", `/v1/files/${file.id}/content`, a.auth);
    expect(whole.status).toBe(200);
    expect(sha(whole.bytes)).toBe(sha(data));
    const part = await raw("GET", `/v1/files/${file.id}/content?offset=10&length=20`, a.auth);
    expect(part.bytes).toEqual(data.subarray(10, 30));
    const wrong = await raw(
      "POST",
      `/v1/files:upload?name=bad&sha256=${sha(Buffer.from("x"))}`,
      a.auth,
      data,
    );
    expect(wrong.status).toBe(400);
    await raw("POST", "/v1/files:upload?name=blob.bin", a.auth, Buffer.from("v2"));
    const versions = await call("GET", `/v1/files/${file.id}/versions`, a.auth);
    expect(versions.body.versions).toHaveLength(2);
    const usage = await call("GET", "/v1/usage", a.auth);
    expect(usage.status).toBe(200);
    expect(usage.body).toMatchObject({ usedBytes: "100002", fileCount: "1" });
    const url = await call("GET", `/v1/files/${file.id}:downloadUrl`, a.auth);
    expect(url.status).toBe(400);
    expect(reasonOf(url.body)).toBe("PRESIGN_UNSUPPORTED");
  });

  it("upload sessions: create, put parts, get, complete, cancel", async () => {
    const a = await signup();
    const data = randomBytes(3000);
    const s = await call("POST", "/v1/uploads", a.auth, {
      name: "session.bin",
      sizeBytes: "3000",
      sha256: sha(data),
      partSizeBytes: "1000",
    });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({
      partCount: 3,
      method: "UPLOAD_METHOD_PARTS",
      state: "UPLOAD_STATE_ACTIVE",
    });
    for (let n = 1; n <= 3; n++) {
      const put = await raw(
        "PUT",
        `/v1/uploads/${s.body.id}/parts/${n}`,
        a.auth,
        data.subarray((n - 1) * 1000, n * 1000),
      );
      expect(put.status).toBe(200);
    }
    const got = await call("GET", `/v1/uploads/${s.body.id}`, a.auth);
    expect(got.body.committedSizeBytes).toBe("3000");
    expect((await call("POST", `/v1/uploads/${s.body.id}:refreshUrls`, a.auth, {})).status).toBe(400);
    const done = await call("POST", `/v1/uploads/${s.body.id}:complete`, a.auth, {});
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ name: "session.bin", sha256: sha(data) });
    const other = await call("POST", "/v1/uploads", a.auth, { name: "dropped", sizeBytes: "10" });
    expect((await call("DELETE", `/v1/uploads/${other.body.id}`, a.auth)).status).toBe(200);
    const big = await call("POST", "/v1/uploads", a.auth, { name: "huge", sizeBytes: String(2 ** 50) });
    expect(big.status).toBe(413); // RESOURCE_EXHAUSTED / UPLOAD_TOO_LARGE (Envoy: 429)
    expect(reasonOf(big.body)).toBe("UPLOAD_TOO_LARGE");
  });

  it("trash: delete, list, restore", async () => {
    const a = await signup();
    const f = await call("POST", "/v1/folders", a.auth, { name: "bin-me" });
    const del = await call("DELETE", `/v1/files/${f.body.id}`, a.auth);
    expect(del.status).toBe(200);
    const trash = await call("GET", "/v1/trash", a.auth);
    expect(trash.body.files.map((x: { id: string }) => x.id)).toEqual([f.body.id]);
    const back = await call("POST", `/v1/files/${f.body.id}:restore`, a.auth, {});
    expect(back.status).toBe(200);
    expect(back.body.trashTime ?? undefined).toBeUndefined();
    expect((await call("DELETE", `/v1/files/${f.body.id}?permanent=true`, a.auth)).status).toBe(200);
    expect((await call("GET", `/v1/files/${f.body.id}`, a.auth)).status).toBe(404);
  });

  it("share links: create, list, anonymous get and content, delete", async () => {
    const a = await signup();
    const up = await raw("POST", "/v1/files:upload?name=shared.txt", a.auth, Buffer.from("via link"));
    const file = JSON.parse(up.bytes.toString());
    const link = await call("POST", `/v1/files/${file.id}/links`, a.auth, {
      role: "viewer",
      password: "pw",
      maxDownloads: 1,
    });
    expect(link.status).toBe(200);
    expect(link.body).toMatchObject({ role: "viewer", hasPassword: true, maxDownloads: 1 });
    expect((await call("GET", `/v1/files/${file.id}/links`, a.auth)).body.links).toHaveLength(1);
    expect((await call("GET", `/v1/links/${link.body.token}`)).status).toBe(403);
    const seen = await call("GET", `/v1/links/${link.body.token}?password=pw`);
    expect(seen.status).toBe(200);
    expect(seen.body.file).toMatchObject({ id: file.id, name: "shared.txt" });
    const content = await raw("GET", `/v1/links/${link.body.token}/content?password=pw`, {});
    expect(content.bytes.toString()).toBe("via link");
    expect((await raw("GET", `/v1/links/${link.body.token}/content?password=pw`, {})).status).toBe(429);
    expect((await call("DELETE", `/v1/files/${file.id}/links/${link.body.id}`, a.auth)).status).toBe(200);
    expect((await call("GET", `/v1/links/${link.body.token}?password=pw`)).status).toBe(404);
  });
});
