// tus 1.0.0 at /v1/tus/ through the gateway, with the real tus-js-client from npm and with raw
// requests for what a client library never sends (attacks, malformed headers). fs driver;
// parts of 1 MiB so a 32 MiB upload spans many parts and every abort leaves a tail.
// CONFORMANCE_BASE_URL=http://127.0.0.1:8080 runs it against `npm start` (the two tests that
// need this file's quota or database are skipped there).
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server, Socket } from "node:net";
import pg from "pg";
import * as tus from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient, sha } from "./file-client.js";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

const MiB = 1024 * 1024;
const QUOTA = 40 * MiB;
let t: Target;
/** A TCP pass-through in front of the gateway that counts the bytes clients send through it. */
let counter: { server: Server; port: number; sent: number };

beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    serviceEnv: { file: { DEFAULT_QUOTA_BYTES: String(QUOTA), UPLOAD_PART_BYTES: String(MiB) } },
    gatewayEnv: { CORS_ALLOWED_ORIGINS: "https://app.example" },
  });
  const gw = new URL(t.base);
  counter = { server: createServer(), port: 0, sent: 0 };
  counter.server.on("connection", (client) => {
    const up = new Socket();
    up.connect(Number(gw.port), gw.hostname);
    client.on("data", (d) => {
      counter.sent += d.length;
    });
    client.pipe(up).pipe(client);
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on("error", end).on("close", end);
    up.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => counter.server.listen(0, "127.0.0.1", r));
  counter.port = (counter.server.address() as { port: number }).port;
}, 120_000);
afterAll(async () => {
  counter?.server.close();
  await t?.stop();
});

const { signup, call, raw } = fileClient(() => t.base);
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const TUS = { "tus-resumable": "1.0.0" };

async function tusReq(method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  const url = path.startsWith("http") ? path : `${t.base}${path}`;
  const init: RequestInit = { method, headers };
  if (body) init.body = body;
  let res = await fetch(url, init);
  // Against a deployment's own rate limits (CONFORMANCE_BASE_URL) a 429 is waited out, as a
  // client would; this file's mesh never limits (its RATE_LIMITS are lifted).
  for (let i = 0; i < 5 && res.status === 429; i++) {
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") ?? "1")));
    res = await fetch(url, init);
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, body: json, text };
}

async function create(
  auth: Record<string, string>,
  length: number | string,
  md = `filename ${b64("a.bin")}`,
) {
  return tusReq("POST", "/v1/tus/", {
    ...TUS,
    ...auth,
    "upload-length": String(length),
    "upload-metadata": md,
  });
}

const pathOf = (location: string) => new URL(location).pathname;

function upload(data: Buffer, o: Partial<tus.UploadOptions> & { endpoint?: string }): Promise<tus.Upload> {
  return new Promise((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(data, {
      retryDelays: [],
      ...o,
      onSuccess: () => resolve(u),
      onError: (err) => reject(err),
    });
    u.start();
  });
}

async function usage(auth: Record<string, string>) {
  return (await call("GET", "/v1/usage", auth)).body as { usedBytes: string; reservedBytes: string };
}

describe("tus discovery and CORS", () => {
  it("OPTIONS lists the version, extensions, max size and checksum algorithm", async () => {
    const r = await tusReq("OPTIONS", "/v1/tus/", {});
    expect(r.status).toBe(204);
    expect(r.headers.get("tus-version")).toBe("1.0.0");
    expect(r.headers.get("tus-extension")?.split(",")).toEqual(
      expect.arrayContaining([
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "termination",
        "checksum",
        "expiration",
      ]),
    );
    expect(r.headers.get("tus-extension")).not.toContain("concatenation");
    expect(r.headers.get("tus-checksum-algorithm")).toBe("sha256");
    expect(Number(r.headers.get("tus-max-size"))).toBeGreaterThan(0);
  });

  it("CORS exposes the tus response headers and allows the tus request headers", async (ctx) => {
    if (!t.mesh) ctx.skip(); // needs this file's CORS_ALLOWED_ORIGINS
    const requested =
      "authorization, tus-resumable, upload-length, upload-metadata, upload-offset, upload-checksum, content-type";
    const pre = await tusReq("OPTIONS", "/v1/tus/", {
      origin: "https://app.example",
      "access-control-request-method": "PATCH",
      "access-control-request-headers": requested,
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toBe(requested);
    expect(pre.headers.get("access-control-allow-methods")).toContain("PATCH");
    const a = await signup();
    const r = await tusReq("POST", "/v1/tus/", {
      ...TUS,
      ...a.auth,
      origin: "https://app.example",
      "upload-length": "3",
      "upload-metadata": `filename ${b64("c.txt")}`,
    });
    expect(r.status).toBe(201);
    const exposed = (r.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/,\s*/);
    for (const h of [
      "upload-offset",
      "location",
      "upload-length",
      "tus-resumable",
      "upload-metadata",
      "upload-expires",
    ]) {
      expect(exposed).toContain(h);
    }
  });
});

describe("tus uploads with tus-js-client", () => {
  it("a 32 MiB upload aborted mid-way resumes from the stored URL without sending bytes twice", async () => {
    const a = await signup();
    const data = randomBytes(32 * MiB);
    const endpoint = `http://127.0.0.1:${counter.port}/v1/tus/`;
    let url = "";
    await new Promise<void>((resolve, reject) => {
      const u: tus.Upload = new tus.Upload(data, {
        endpoint,
        headers: a.auth,
        metadata: { filename: "big.bin" },
        retryDelays: [],
        onProgress: (sent) => {
          if (sent >= 12 * MiB && !url) {
            url = u.url ?? "";
            u.abort().then(resolve, reject);
          }
        },
        onSuccess: () => reject(new Error("finished before the abort")),
        onError: reject,
      });
      u.start();
    });
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${counter.port}/v1/tus/[0-9a-f-]{36}$`));
    // The server keeps what arrived before the connection broke; wait until it has settled.
    let offset = -1;
    for (let i = 0; i < 50; i++) {
      const h = await tusReq("HEAD", pathOf(url), { ...TUS, ...a.auth });
      expect(h.status).toBe(200);
      const now = Number(h.headers.get("upload-offset"));
      if (now > 0 && now === offset) break;
      offset = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(data.length);
    counter.sent = 0;
    const patches: string[] = [];
    await upload(data, {
      uploadUrl: url,
      headers: a.auth,
      onBeforeRequest: (req) => {
        if (req.getMethod() === "PATCH") patches.push(req.getHeader("Upload-Offset") ?? "");
      },
    });
    expect(patches).toEqual([String(offset)]);
    // Only the rest crossed the wire (plus a few KiB of headers), not the bytes before `offset`.
    expect(counter.sent).toBeGreaterThanOrEqual(data.length - offset);
    expect(counter.sent).toBeLessThan(data.length - offset + 16 * 1024);
    const id = pathOf(url).split("/").pop();
    const up = await call("GET", `/v1/uploads/${id}`, a.auth);
    expect(up.body.state).toBe("UPLOAD_STATE_COMPLETED");
    const file = await call("GET", `/v1/files/${up.body.fileId}`, a.auth);
    expect(file.body).toMatchObject({ name: "big.bin", sizeBytes: String(data.length), sha256: sha(data) });
    expect(["READY", "PROCESSING"]).toContain(file.body.state);
    // Content is served once READY (against `npm start` the processor decides that, not the commit).
    let state = file.body.state;
    for (let i = 0; i < 150 && state === "PROCESSING"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await call("GET", `/v1/files/${up.body.fileId}`, a.auth)).body.state;
    }
    expect(state).toBe("READY");
    const got = await raw("GET", `/v1/files/${up.body.fileId}/content`, a.auth);
    expect(got.status).toBe(200);
    expect(createHash("sha256").update(got.bytes).digest("hex")).toBe(sha(data));
    expect(await usage(a.auth)).toMatchObject({ usedBytes: String(data.length), reservedBytes: "0" });
  }, 120_000);

  it("metadata with non-Latin names round-trips; small chunks and a deferred length work", async () => {
    const a = await signup();
    const name = "Отчёт 報告 ملف 📄.txt";
    const data = Buffer.from("ünïcödé ".repeat(300_000)); // ~2.7 MiB: parts and tails
    const u = await upload(data, {
      endpoint: `${t.base}/v1/tus/`,
      headers: a.auth,
      metadata: { filename: name, filetype: "text/plain" },
      chunkSize: 700 * 1024,
      uploadLengthDeferred: true,
    });
    const id = u.url?.split("/").pop();
    const head = await tusReq("HEAD", `/v1/tus/${id}`, { ...TUS, ...a.auth });
    expect(head.headers.get("upload-offset")).toBe(String(data.length));
    expect(head.headers.get("upload-length")).toBe(String(data.length));
    const md = new Map(
      (head.headers.get("upload-metadata") ?? "").split(",").map((p) => {
        const [k, v = ""] = p.split(" ");
        return [k, Buffer.from(v, "base64").toString("utf8")] as const;
      }),
    );
    expect(md.get("filename")).toBe(name);
    const up = await call("GET", `/v1/uploads/${id}`, a.auth);
    const file = await call("GET", `/v1/files/${up.body.fileId}`, a.auth);
    expect(file.body).toMatchObject({ name, sizeBytes: String(data.length), sha256: sha(data) });
    expect(await usage(a.auth)).toMatchObject({ usedBytes: String(data.length), reservedBytes: "0" });
  }, 60_000);

  it("termination: DELETE then HEAD is 404 and the reservation is released", async () => {
    const a = await signup();
    const c = await create(a.auth, 5 * MiB);
    expect(c.status).toBe(201);
    expect((await usage(a.auth)).reservedBytes).toBe(String(5 * MiB));
    const path = pathOf(c.headers.get("location") ?? "");
    const p = await tusReq(
      "PATCH",
      path,
      { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      randomBytes(1500),
    );
    expect(p.status).toBe(204);
    expect(p.headers.get("upload-offset")).toBe("1500");
    const d = await tusReq("DELETE", path, { ...TUS, ...a.auth });
    expect(d.status).toBe(204);
    expect((await tusReq("HEAD", path, { ...TUS, ...a.auth })).status).toBe(404);
    expect((await usage(a.auth)).reservedBytes).toBe("0");
  });

  it("the folder comes from parentId; an unknown or foreign parent is refused", async () => {
    const a = await signup();
    const b = await signup();
    const folder = await call("POST", "/v1/folders", a.auth, { name: "inbox" });
    expect(folder.status).toBe(200);
    const fid = folder.body.file?.id ?? folder.body.folder?.id ?? folder.body.id;
    const u = await upload(Buffer.from("hello"), {
      endpoint: `${t.base}/v1/tus/`,
      headers: a.auth,
      metadata: { filename: "in-folder.txt", parentId: fid },
    });
    const up = await call("GET", `/v1/uploads/${u.url?.split("/").pop()}`, a.auth);
    expect(up.body.parentId).toBe(fid);
    const foreign = await create(b.auth, 5, `filename ${b64("x")},parentId ${b64(fid)}`);
    expect(foreign.status).toBe(404);
    expect(reasonOf(foreign.body)).toBe("FILE_NOT_FOUND");
  });
});

describe("tus completion", () => {
  it("all bytes in but the commit failed: HEAD completes the upload before it reports offset = length", async () => {
    const a = await signup();
    const folder = await call("POST", "/v1/folders", a.auth, { name: "drop" });
    const data = Buffer.from("every byte of it");
    const c = await create(
      a.auth,
      data.length,
      `filename ${b64("late.txt")},parentId ${b64(folder.body.id)}`,
    );
    expect(c.status).toBe(201);
    const path = pathOf(c.headers.get("location") ?? "");
    // The folder goes to the trash: the last PATCH stores its bytes, but the commit fails.
    expect((await call("DELETE", `/v1/files/${folder.body.id}`, a.auth)).status).toBe(200);
    const h = { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" };
    const last = await tusReq("PATCH", path, h, data);
    expect(last.status).toBe(404);
    const id = path.split("/").pop();
    expect((await call("GET", `/v1/uploads/${id}`, a.auth)).body).toMatchObject({
      committedSizeBytes: String(data.length),
      state: "UPLOAD_STATE_ACTIVE",
    });
    // Back from the trash; a tus client that lost the PATCH's answer asks where it stands.
    expect((await call("POST", `/v1/files/${folder.body.id}:restore`, a.auth, {})).status).toBe(200);
    const head = await tusReq("HEAD", path, { ...TUS, ...a.auth });
    expect([head.status, head.headers.get("upload-offset")]).toEqual([200, String(data.length)]);
    const up = await call("GET", `/v1/uploads/${id}`, a.auth);
    expect(up.body).toMatchObject({ state: "UPLOAD_STATE_COMPLETED", fileId: expect.any(String) });
    const content = await raw("GET", `/v1/files/${up.body.fileId}/content`, a.auth);
    expect(content.bytes.toString()).toBe("every byte of it");
  });
});

describe("tus refusals", () => {
  it("over-quota creation is 413 and reserves nothing", async (ctx) => {
    if (!t.mesh) ctx.skip(); // needs this file's DEFAULT_QUOTA_BYTES
    const a = await signup();
    const r = await create(a.auth, QUOTA + 1);
    expect(r.status).toBe(413);
    expect(reasonOf(r.body)).toBe("QUOTA_EXCEEDED");
    expect((await usage(a.auth)).reservedBytes).toBe("0");
  });

  it("a chunk beyond Upload-Length is 413 and keeps nothing", async () => {
    const a = await signup();
    const c = await create(a.auth, 10);
    const path = pathOf(c.headers.get("location") ?? "");
    const h = { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" };
    const r = await tusReq("PATCH", path, h, randomBytes(11));
    expect(r.status).toBe(413);
    expect(reasonOf(r.body)).toBe("UPLOAD_LENGTH_EXCEEDED");
    expect((await tusReq("HEAD", path, { ...TUS, ...a.auth })).headers.get("upload-offset")).toBe("0");
  });

  it("a wrong checksum is 460 and keeps nothing; the right one is taken", async () => {
    const a = await signup();
    const c = await create(a.auth, 64);
    const path = pathOf(c.headers.get("location") ?? "");
    const chunk = randomBytes(40);
    const h = { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" };
    const digest = (b: Buffer) => `sha256 ${createHash("sha256").update(b).digest("base64")}`;
    const wrong = await tusReq("PATCH", path, { ...h, "upload-checksum": digest(randomBytes(40)) }, chunk);
    expect(wrong.status).toBe(460);
    expect(reasonOf(wrong.body)).toBe("CHECKSUM_MISMATCH");
    expect((await tusReq("HEAD", path, { ...TUS, ...a.auth })).headers.get("upload-offset")).toBe("0");
    const md5 = await tusReq(
      "PATCH",
      path,
      { ...h, "upload-checksum": "md5 1B2M2Y8AsgTpgAmY7PhCfg==" },
      chunk,
    );
    expect(md5.status).toBe(400);
    const right = await tusReq("PATCH", path, { ...h, "upload-checksum": digest(chunk) }, chunk);
    expect(right.status).toBe(204);
    expect(right.headers.get("upload-offset")).toBe("40");
  });

  it("an expired upload is 410 and its reservation is released", async (ctx) => {
    if (!t.mesh) ctx.skip(); // moves the expiry in the mesh's database
    const a = await signup();
    const c = await create(a.auth, 1000);
    const path = pathOf(c.headers.get("location") ?? "");
    expect(new Date(c.headers.get("upload-expires") ?? "").getTime()).toBeGreaterThan(Date.now());
    const db = new pg.Client({ connectionString: t.mesh!.env.DATABASE_URL });
    await db.connect();
    await db.query("UPDATE files.uploads SET expire_time = now() - interval '1 second' WHERE id = $1", [
      path.split("/").pop(),
    ]);
    await db.end();
    const h = await tusReq("HEAD", path, { ...TUS, ...a.auth });
    expect(h.status).toBe(410);
    const p = await tusReq(
      "PATCH",
      path,
      { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      Buffer.from("x"),
    );
    expect(p.status).toBe(410);
    expect((await usage(a.auth)).reservedBytes).toBe("0");
  });

  it("another user's upload URL is 404 for HEAD, PATCH and DELETE", async () => {
    const a = await signup();
    const b = await signup();
    const path = pathOf((await create(a.auth, 10)).headers.get("location") ?? "");
    const foreign = await tusReq("HEAD", path, { ...TUS, ...b.auth });
    expect(foreign.status).toBe(404);
    // A HEAD answer has no body: its reason comes in a header (as on every tus error).
    expect(foreign.headers.get("filemesh-error-reason")).toBe("UPLOAD_NOT_FOUND");
    const anonymous = await tusReq("HEAD", path, { ...TUS, authorization: "Bearer not-a-token" });
    expect([anonymous.status, anonymous.headers.get("filemesh-error-reason")]).toEqual([
      401,
      "INVALID_TOKEN",
    ]);
    const p = await tusReq(
      "PATCH",
      path,
      { ...TUS, ...b.auth, "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      Buffer.from("evil"),
    );
    expect(p.status).toBe(404);
    expect((await tusReq("DELETE", path, { ...TUS, ...b.auth })).status).toBe(404);
    const h = await tusReq("HEAD", path, { ...TUS, ...a.auth });
    expect(h.status).toBe(200);
    expect(h.headers.get("upload-offset")).toBe("0");
  });

  it("no token, a bad token or an ended session is 401", async () => {
    expect((await create({}, 10)).status).toBe(401);
    expect((await create({ authorization: "Bearer nope.nope.nope" }, 10)).status).toBe(401);
    const a = await signup();
    const path = pathOf((await create(a.auth, 10)).headers.get("location") ?? "");
    expect((await rest(t.base, "POST", "/v1/auth:logout", {}, a.auth)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // a live session is cached for ≤ 1 s (kit auth)
    const r = await create(a.auth, 10);
    expect(r.status).toBe(401);
    expect(reasonOf(r.body)).toBe("SESSION_ENDED");
    expect((await tusReq("HEAD", path, { ...TUS, ...a.auth })).status).toBe(401);
  });

  it("forged X-Forwarded-* and identity headers are ignored", async () => {
    const a = await signup();
    const forged = {
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "https",
      forwarded: "host=evil.example;proto=https",
      "x-filemesh-service": "processor",
      "x-filemesh-internal-token": t.mesh?.env.INTERNAL_TOKEN ?? "a-guess-at-the-internal-token",
    };
    const r = await tusReq("POST", "/v1/tus/", {
      ...TUS,
      ...a.auth,
      ...forged,
      "upload-length": "1",
      "upload-metadata": `filename ${b64("f")}`,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get("location")).toMatch(new RegExp(`^${t.base}/v1/tus/[0-9a-f-]{36}$`));
    // The mesh's own identity headers from a client do not stand in for a token.
    const anon = await tusReq("POST", "/v1/tus/", {
      ...TUS,
      ...forged,
      "upload-length": "1",
      "upload-metadata": `filename ${b64("f")}`,
    });
    expect(anon.status).toBe(401);
  });

  it("malformed lengths, offsets, content types and protocol versions", async () => {
    const a = await signup();
    for (const bad of ["-1", "99999999999999999999999", "abc", "1e3", " "]) {
      const r = await create(a.auth, bad);
      expect(r.status, bad).toBe(400);
    }
    expect((await create(a.auth, Number.MAX_SAFE_INTEGER)).status).toBe(413);
    const noLength = await tusReq("POST", "/v1/tus/", {
      ...TUS,
      ...a.auth,
      "upload-metadata": `filename ${b64("f")}`,
    });
    expect(noLength.status).toBe(400);
    const noName = await tusReq("POST", "/v1/tus/", { ...TUS, ...a.auth, "upload-length": "1" });
    expect(noName.status).toBe(400);
    expect(reasonOf(noName.body)).toBe("INVALID_NAME");
    const missing = await tusReq("POST", "/v1/tus/", { ...a.auth, "upload-length": "1" });
    expect(missing.status).toBe(412);
    expect(missing.headers.get("tus-version")).toBe("1.0.0");
    const path = pathOf((await create(a.auth, 10)).headers.get("location") ?? "");
    const h = { ...TUS, ...a.auth, "content-type": "application/offset+octet-stream" };
    expect((await tusReq("PATCH", path, { ...h, "upload-offset": "3" }, Buffer.from("abc"))).status).toBe(
      409,
    );
    expect(
      (
        await tusReq(
          "PATCH",
          path,
          { ...h, "content-type": "application/json", "upload-offset": "0" },
          Buffer.from("{}"),
        )
      ).status,
    ).toBe(415);
    expect(
      (
        await tusReq(
          "PATCH",
          path,
          { ...a.auth, ...h, "tus-resumable": "0.2.2", "upload-offset": "0" },
          Buffer.from("a"),
        )
      ).status,
    ).toBe(412);
    expect((await tusReq("PATCH", path, { ...h, "upload-offset": "-1" }, Buffer.from("a"))).status).toBe(400);
    expect((await tusReq("HEAD", "/v1/tus/not-an-id", { ...TUS, ...a.auth })).status).toBe(404);
    expect((await tusReq("GET", path, { ...TUS, ...a.auth })).status).toBe(405);
    expect((await tusReq("HEAD", path, { ...TUS, ...a.auth })).headers.get("upload-offset")).toBe("0");
  });
});
