// The attacker's matrix through the gateway (docs/security.md cites these): every route of the
// contracts without a token, every admin route as a user, the internal RPCs from outside, and
// a stranger against another user's file, upload, version, link, grant, group and session —
// each refused the same way as for something that does not exist, and the victim's data left
// as it was. Also request_id replays across users, fields a caller must not set, page tokens,
// forged access tokens (RFC 8725), and the findings of the review.
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { methodCatalog } from "@filemesh/contracts";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeyRing } from "../../services/auth/src/domain/tokens.js";
import { decodeServiceError } from "../../services/kit/src/errors.js";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

type H = Record<string, string>;
interface User {
  id: string;
  email: string;
  token: string;
  sessionId: string;
  auth: H;
}

let t: Target;
let grpc: Client;
const PASSWORD = "a long security passphrase";

beforeAll(async () => {
  t = await startTarget({ services: ["auth", "user", "permission", "file", "processor"] });
  grpc = new Client(new URL(t.base).host, credentials.createInsecure());
});
afterAll(async () => {
  grpc?.close();
  await t?.stop();
});

const call = (method: string, path: string, auth: H = {}, body?: unknown) =>
  rest(t.base, method, path, body, auth);

async function raw(method: string, path: string, auth: H, body?: Uint8Array) {
  const init: RequestInit = { method, headers: { ...auth, "content-type": "application/octet-stream" } };
  if (body) init.body = body;
  const res = await fetch(`${t.base}${path}`, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {}
  return { status: res.status, bytes, body: json as any };
}

async function signup(): Promise<User> {
  const email = `sec-${randomUUID()}@example.com`;
  const reg = await call("POST", "/v1/auth:register", undefined, {
    email,
    password: PASSWORD,
    displayName: "Sec",
  });
  expect(reg.status).toBe(200);
  const login = await call("POST", "/v1/auth:login", undefined, { email, password: PASSWORD });
  expect(login.status).toBe(200);
  const token = login.body.accessToken as string;
  return {
    id: reg.body.user.id,
    email,
    token,
    sessionId: login.body.sessionId,
    auth: { authorization: `Bearer ${token}` },
  };
}

async function upload(u: User, parentId: string, name: string, bytes: Buffer) {
  const q = `parentId=${parentId}&name=${encodeURIComponent(name)}`;
  const r = await raw("POST", `/v1/files:upload?${q}`, u.auth, bytes);
  expect(r.status).toBe(200);
  return r.body as { id: string; etag: string; currentVersionId: string };
}

/** A path of the contracts with its variables filled in. */
function fill(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    if (name === "part_number") return "1";
    // A bare ":" in the last segment would start a custom verb.
    if (name === "member_id") return `user%3A${randomUUID()}`;
    if (name === "token") return randomBytes(32).toString("base64url");
    return randomUUID();
  });
}

/** Status and ErrorInfo reason of a REST answer. */
const answer = (r: { status: number; body: unknown }) => [r.status, reasonOf(r.body)];

/** A gRPC call through the gateway with raw bytes (an empty message is valid for every request). */
function grpcCall(
  path: string,
  kind: "unary" | "server" | "client",
  headers: H,
  bytes: Buffer = Buffer.alloc(0),
): Promise<{ code: number; reason: string }> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const id = (b: Buffer) => b;
  const opts = { deadline: Date.now() + 5_000 };
  const settle = (err: ServiceError | null) =>
    err ? { code: err.code, reason: decodeServiceError(err).reason } : { code: status.OK, reason: "" };
  return new Promise((resolve) => {
    if (kind === "client") {
      const c = grpc.makeClientStreamRequest(path, id, id, md, opts, (err) => resolve(settle(err)));
      c.write(bytes);
      c.end();
    } else if (kind === "server") {
      const c = grpc.makeServerStreamRequest(path, id, id, bytes, md, opts);
      c.on("data", () => {});
      c.on("error", (err: ServiceError) => resolve(settle(err)));
      c.on("end", () => resolve(settle(null)));
    } else {
      grpc.makeUnaryRequest(path, id, id, bytes, md, opts, (err) => resolve(settle(err)));
    }
  });
}

/** Protobuf bytes of a message with string fields only (field number → value). */
function pbStrings(fields: Record<number, string>): Buffer {
  const out: Buffer[] = [];
  for (const [n, v] of Object.entries(fields)) {
    const b = Buffer.from(v);
    out.push(Buffer.from([(Number(n) << 3) | 2, b.length]), b);
  }
  return Buffer.concat(out);
}

describe("who may call: every route of the contracts", () => {
  it("every authenticated REST route answers 401 MISSING_TOKEN to an anonymous caller", async () => {
    let n = 0;
    for (const m of methodCatalog) {
      if (m.policy.public || m.policy.internalCallers.length) continue;
      for (const h of m.http) {
        const path = fill(h.path);
        const r = m.clientStreaming
          ? await raw(h.method, path, {}, Buffer.from("x"))
          : await call(h.method, path, {}, h.body ? {} : undefined);
        expect(answer(r), `${h.method} ${h.path}`).toEqual([401, "MISSING_TOKEN"]);
        n++;
      }
    }
    expect(n).toBeGreaterThan(45);
  });

  it("every admin REST route answers 403 ADMIN_REQUIRED to an ordinary user", async () => {
    const u = await signup();
    const admin = methodCatalog.filter((m) => m.policy.admin);
    expect(admin.length).toBeGreaterThan(0);
    for (const m of admin) {
      for (const h of m.http) {
        const r = await call(h.method, fill(h.path), u.auth, h.body ? {} : undefined);
        expect(answer(r), `${h.method} ${h.path}`).toEqual([403, "ADMIN_REQUIRED"]);
      }
    }
  });

  it("internal RPCs are unreachable from outside: gRPC PERMISSION_DENIED, no REST or auto-mapped route", async () => {
    const u = await signup();
    const internal = methodCatalog.filter((m) => m.policy.internalCallers.length);
    expect(internal.length).toBeGreaterThan(0);
    for (const m of internal) {
      expect(m.http, m.path).toEqual([]);
      const kind = m.clientStreaming ? "client" : m.serverStreaming ? "server" : "unary";
      // Even with a listed service's name and a guessed internal token.
      for (const headers of [
        {},
        u.auth,
        { "x-filemesh-service": m.policy.internalCallers[0]!, "x-filemesh-internal-token": "x".repeat(32) },
      ]) {
        const got = await grpcCall(m.path, kind, headers);
        expect(got.code, `${m.path} over gRPC`).toBe(status.PERMISSION_DENIED);
      }
      const mapped = await call("POST", m.path, u.auth, {});
      expect(mapped.status, `POST ${m.path}`).toBe(404);
    }
  });
});

describe("a stranger against another user's things", () => {
  let alice: User;
  let bob: User;
  let carol: User;
  let folder: string;
  let file: { id: string; etag: string; currentVersionId: string };
  let link: { id: string; token: string };
  let grant: { id: string };
  const CONTENT = Buffer.from("alice's private bytes");

  beforeAll(async () => {
    [alice, bob, carol] = [await signup(), await signup(), await signup()];
    folder = (await call("POST", "/v1/folders", alice.auth, { name: "private" })).body.id;
    file = await upload(alice, folder, "secret.txt", CONTENT);
    link = (await call("POST", `/v1/files/${file.id}/links`, alice.auth, {})).body;
    grant = (
      await call("POST", `/v1/files/${file.id}/grants`, alice.auth, {
        subject: `user:${carol.id}`,
        role: "viewer",
      })
    ).body;
    expect(link.token).toBeTruthy();
    expect(grant.id).toBeTruthy();
  });

  /** Alice's file, link and grant are exactly as they were. */
  async function unchanged() {
    const got = await call("GET", `/v1/files/${file.id}`, alice.auth);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      etag: file.etag,
      parentId: folder,
      ownerId: alice.id,
      name: "secret.txt",
    });
    expect(got.body.trashTime ?? null).toBeNull();
    const bytes = await raw("GET", `/v1/files/${file.id}/content`, alice.auth);
    expect(bytes.bytes.equals(CONTENT)).toBe(true);
    expect((await call("GET", `/v1/links/${link.token}`)).status).toBe(200);
    const grants = await call("GET", `/v1/files/${file.id}/grants`, alice.auth);
    expect(grants.body.grants.map((g: { id: string; subject: string }) => g.subject).sort()).toEqual(
      [`user:${alice.id}`, `user:${carol.id}`, `link:${link.id}`].sort(),
    );
  }

  it("every route of another user's file answers exactly like a missing file, and the file stays as it was", async () => {
    // Each route with (file id, folder id): Alice's, then ids that do not exist.
    const routes: [string, (id: string, dir: string) => string, unknown?][] = [
      ["GET", (id) => `/v1/files/${id}`],
      ["GET", (id) => `/v1/files/${id}/content`],
      ["GET", (id) => `/v1/files/${id}:downloadUrl`],
      ["GET", (id) => `/v1/files/${id}/versions`],
      ["POST", (id) => `/v1/files/${id}/versions/${file.currentVersionId}:restore`, {}],
      ["GET", (id) => `/v1/files/${id}/thumbnail`],
      ["GET", (id) => `/v1/files/${id}/links`],
      ["POST", (id) => `/v1/files/${id}/links`, {}],
      ["DELETE", (id) => `/v1/files/${id}/links/${link.id}`],
      ["PATCH", (id) => `/v1/files/${id}?updateMask=name`, { name: "taken.txt" }],
      ["POST", (id) => `/v1/files/${id}:copy`, {}],
      ["DELETE", (id) => `/v1/files/${id}`],
      ["DELETE", (id) => `/v1/files/${id}?permanent=true`],
      ["POST", (id) => `/v1/files/${id}:restore`, {}],
      ["GET", (id) => `/v1/files/${id}/grants`],
      ["POST", (id) => `/v1/files/${id}/grants`, { subject: `user:${bob.id}`, role: "owner" }],
      ["DELETE", (id) => `/v1/files/${id}/grants/${grant.id}`],
      ["GET", (_id, dir) => `/v1/files?parentId=${dir}`],
      ["POST", () => "/v1/folders", (dir: string) => ({ parentId: dir, name: "intruder" })],
      ["POST", () => "/v1/uploads", (dir: string) => ({ parentId: dir, name: "intruder", sizeBytes: "1" })],
    ];
    const missing = randomUUID();
    for (const [method, path, body] of routes) {
      const bodyFor = (dir: string) => (typeof body === "function" ? body(dir) : body);
      const where = `${method} ${path(":id", ":folder")}`;
      const hidden = await call(method, path(file.id, folder), bob.auth, bodyFor(folder));
      const none = await call(method, path(missing, missing), bob.auth, bodyFor(missing));
      expect(hidden.status, where).toBeGreaterThanOrEqual(400);
      expect(answer(hidden), `${where} tells a hidden file from a missing one`).toEqual(answer(none));
    }
    const up = await raw(
      "POST",
      `/v1/files:upload?parentId=${folder}&name=intruder`,
      bob.auth,
      Buffer.from("x"),
    );
    expect(answer(up)).toEqual([404, "FILE_NOT_FOUND"]);
    for (const [path, kind] of [
      ["/filemesh.file.v1.FileService/ReadFile", "server"],
      ["/filemesh.file.v1.FileService/WatchFile", "server"],
    ] as const) {
      expect(await grpcCall(path, kind, bob.auth, pbStrings({ 1: file.id })), path).toEqual({
        code: status.NOT_FOUND,
        reason: "FILE_NOT_FOUND",
      });
    }
    await unchanged();
  });

  it("another user's upload session is 404 UPLOAD_NOT_FOUND on every upload route and takes none of the stranger's bytes", async () => {
    const s = await call("POST", "/v1/uploads", alice.auth, {
      parentId: folder,
      name: "report.txt",
      sizeBytes: "5",
    });
    expect(s.status).toBe(200);
    const id = s.body.id as string;
    const tries = [
      await call("GET", `/v1/uploads/${id}`, bob.auth),
      await raw("PUT", `/v1/uploads/${id}/parts/1`, bob.auth, Buffer.from("EVIL!")),
      await call("POST", `/v1/uploads/${id}:refreshUrls`, bob.auth, {}),
      await call("POST", `/v1/uploads/${id}:complete`, bob.auth, {}),
      await call("DELETE", `/v1/uploads/${id}`, bob.auth),
    ];
    for (const r of tries) expect(answer(r)).toEqual([404, "UPLOAD_NOT_FOUND"]);
    const native = await grpcCall(
      "/filemesh.file.v1.FileService/WriteUpload",
      "client",
      bob.auth,
      pbStrings({ 1: id }),
    );
    expect(native).toEqual({ code: status.NOT_FOUND, reason: "UPLOAD_NOT_FOUND" });
    expect((await raw("PUT", `/v1/uploads/${id}/parts/1`, alice.auth, Buffer.from("hello"))).status).toBe(
      200,
    );
    const done = await call("POST", `/v1/uploads/${id}:complete`, alice.auth, {});
    expect(done.status).toBe(200);
    expect((await raw("GET", `/v1/files/${done.body.id}/content`, alice.auth)).bytes.toString()).toBe(
      "hello",
    );
  });

  it("ids of another user's version, share link, grant, group or session answer NOT_FOUND through one's own resources", async () => {
    const mine = await upload(bob, "", `mine-${randomUUID()}.txt`, Buffer.from("bob"));
    const version = await raw(
      "GET",
      `/v1/files/${mine.id}/content?versionId=${file.currentVersionId}`,
      bob.auth,
    );
    expect(answer(version)).toEqual([404, "VERSION_NOT_FOUND"]);
    const linkDel = await call("DELETE", `/v1/files/${mine.id}/links/${link.id}`, bob.auth);
    expect(answer(linkDel)).toEqual([404, "LINK_NOT_FOUND"]);
    const grantDel = await call("DELETE", `/v1/files/${mine.id}/grants/${grant.id}`, bob.auth);
    expect(answer(grantDel)).toEqual([404, "GRANT_NOT_FOUND"]);

    const group = (await call("POST", "/v1/groups", alice.auth, { name: "alice's" })).body.id as string;
    for (const [method, path, body] of [
      ["GET", `/v1/groups/${group}`],
      ["GET", `/v1/groups/${group}/members`],
      ["POST", `/v1/groups/${group}/members`, { member: `user:${bob.id}`, role: "admin" }],
      ["DELETE", `/v1/groups/${group}/members/user%3A${alice.id}`],
      ["DELETE", `/v1/groups/${group}`],
    ] as const) {
      expect(answer(await call(method, path, bob.auth, body)), `${method} ${path}`).toEqual([
        404,
        "GROUP_NOT_FOUND",
      ]);
    }
    expect((await call("GET", `/v1/groups/${group}/members`, alice.auth)).body.members).toHaveLength(1);

    const session = await call("DELETE", `/v1/auth/sessions/${alice.sessionId}`, bob.auth);
    expect(answer(session)).toEqual([404, "SESSION_NOT_FOUND"]);
    expect((await call("GET", "/v1/users/me", alice.auth)).status).toBe(200);
    await unchanged();
  });
});

describe("what a caller sends", () => {
  it("a request_id reused by another user makes that user's own resource", async () => {
    const [a, b] = [await signup(), await signup()];
    const rid = `rid-${randomUUID()}`;
    const fa = await call("POST", "/v1/folders", a.auth, { name: "same", requestId: rid });
    const fb = await call("POST", "/v1/folders", b.auth, { name: "same", requestId: rid });
    expect([fa.status, fb.status]).toEqual([200, 200]);
    expect(fb.body.id).not.toBe(fa.body.id);
    expect(fb.body.ownerId).toBe(b.id);
    const ga = await call("POST", `/v1/groups?requestId=${rid}`, a.auth, { name: "same" });
    const gb = await call("POST", `/v1/groups?requestId=${rid}`, b.auth, { name: "same" });
    expect([ga.status, gb.status]).toEqual([200, 200]);
    expect(gb.body.id).not.toBe(ga.body.id);
    expect((await call("GET", `/v1/groups/${ga.body.id}`, b.auth)).status).toBe(404);
  });

  it("fields a caller must not set are refused or ignored", async () => {
    const [a, b] = [await signup(), await signup()];
    const f = await upload(a, "", `f-${randomUUID()}.txt`, Buffer.from("12345"));
    for (const mask of ["ownerId", "owner_id", "state", "sizeBytes", "id"]) {
      const r = await call("PATCH", `/v1/files/${f.id}?updateMask=${mask}`, a.auth, { ownerId: b.id });
      // A snake_case path is not a JSON FieldMask: the gateway refuses it before the service does.
      expect(r.status, mask).toBe(400);
      expect(["INVALID_UPDATE_MASK", "INVALID_REQUEST"], mask).toContain(reasonOf(r.body));
    }
    const sneaky = await call("PATCH", `/v1/files/${f.id}`, a.auth, {
      name: "renamed.txt",
      ownerId: b.id,
      sizeBytes: "1",
      state: "REJECTED",
      sha256: "00",
    });
    expect(sneaky.status).toBe(200);
    expect(sneaky.body).toMatchObject({ name: "renamed.txt", ownerId: a.id, sizeBytes: "5", state: "READY" });
    const self = await call("POST", `/v1/files/${f.id}/grants`, a.auth, {
      subject: `user:${a.id}`,
      role: "viewer",
    });
    expect(answer(self)).toEqual([403, "OWN_ROLE"]);
    const me = await call("PATCH", "/v1/users/me", a.auth, { id: b.id, email: b.email, displayName: "A" });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: a.id, email: a.email, displayName: "A" });
    const unknown = await call("POST", "/v1/folders", a.auth, { name: "x", ownerId: b.id });
    expect(unknown.status).toBe(400);
  });

  it("forged and transplanted page tokens are 400 INVALID_PAGE_TOKEN; huge page sizes are capped", async () => {
    const [a, b] = [await signup(), await signup()];
    await call("POST", "/v1/folders", a.auth, { name: "one" });
    await call("POST", "/v1/folders", a.auth, { name: "two" });
    const page = await call("GET", "/v1/files?pageSize=1", a.auth);
    expect(page.body.nextPageToken).toBeTruthy();
    const token = encodeURIComponent(page.body.nextPageToken);
    await call("POST", "/v1/folders", b.auth, { name: "b" });
    for (const path of [
      `/v1/files?pageToken=${token}`,
      "/v1/files?pageToken=W10.AAAAAAAAAAAAAAAAAAAAAA",
      `/v1/trash?pageToken=${token}`,
      "/v1/groups?pageToken=eyJ2IjoxLCJjIjpbXX0.AAAA",
      `/v1/permissions/accessible?pageToken=${Buffer.from(JSON.stringify({ s: `user:${a.id}|read`, a: "" })).toString("base64url")}`,
    ]) {
      expect(answer(await call("GET", path, b.auth)), path).toEqual([400, "INVALID_PAGE_TOKEN"]);
    }
    for (const path of [
      "/v1/files?pageSize=2147483647",
      "/v1/trash?pageSize=2147483647",
      "/v1/groups?pageSize=2147483647",
      "/v1/permissions/accessible?pageSize=2147483647",
      "/v1/auth/sessions?pageSize=2147483647",
    ]) {
      expect((await call("GET", path, b.auth)).status, path).toBe(200);
    }
    const sessions = await call("GET", "/v1/auth/sessions?pageSize=-1", b.auth);
    expect(answer(sessions)).toEqual([400, "INVALID_PAGE_SIZE"]);
  });
});

describe("access tokens (RFC 8725) through the gateway", () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

  it("refuses forged tokens with 401: alg none, HS256 keyed with the public key, a foreign key under a known kid, jku and jwk headers", async () => {
    const u = await signup();
    const jwks = (await call("GET", "/v1/auth/jwks")).body.keys as { kid: string; n: string; e: string }[];
    const kid = jwks[0]!.kid;
    const claims = (extra: object = {}) =>
      b64({
        sub: u.id,
        sid: u.sessionId,
        typ: "access",
        adm: true,
        iss: "filemesh",
        aud: "filemesh",
        exp: Math.floor(Date.now() / 1000) + 600,
        ...extra,
      });
    const foreign = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rs256 = (header: object, payload = claims()) => {
      const input = `${b64(header)}.${payload}`;
      return `${input}.${sign("sha256", Buffer.from(input), foreign.privateKey).toString("base64url")}`;
    };
    const pubPem = JSON.stringify(jwks[0]);
    const hsInput = `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${claims()}`;
    const forged = {
      "alg none": `${b64({ alg: "none", typ: "at+jwt", kid })}.${claims()}.`,
      "HS256 keyed with the public key": `${hsInput}.${createHmac("sha256", pubPem).update(hsInput).digest("base64url")}`,
      "a foreign key under the real kid": rs256({ alg: "RS256", typ: "at+jwt", kid }),
      "a jku header": rs256({
        alg: "RS256",
        typ: "at+jwt",
        kid: "attacker",
        jku: "http://127.0.0.1:9/jwks.json",
      }),
      "a jwk header": rs256({
        alg: "RS256",
        typ: "at+jwt",
        kid: "attacker",
        jwk: foreign.publicKey.export({ format: "jwk" }),
      }),
      "the real token with adm added": `${u.token.split(".")[0]}.${claims()}.${u.token.split(".")[2]}`,
    };
    for (const [name, token] of Object.entries(forged)) {
      const r = await call("GET", "/v1/admin/users", { authorization: `Bearer ${token}` });
      expect(answer(r), name).toEqual([401, "INVALID_TOKEN"]);
    }
  });

  it.skipIf(Boolean(process.env.CONFORMANCE_BASE_URL))(
    "refuses tokens signed with the real key but with the wrong typ, audience, issuer, expiry or session",
    async () => {
      const [u, other] = [await signup(), await signup()];
      const key = loadKeyRing(t.mesh!.env.JWT_KEYS_DIR!).current;
      const mint = (header: object, payload: object) => {
        const input = `${b64(header)}.${b64(payload)}`;
        return `${input}.${sign("sha256", Buffer.from(input), key.privateKey).toString("base64url")}`;
      };
      const h = { alg: "RS256", typ: "at+jwt", kid: key.kid };
      const p = {
        sub: u.id,
        sid: u.sessionId,
        typ: "access",
        iss: "filemesh",
        aud: "filemesh",
        exp: Math.floor(Date.now() / 1000) + 600,
      };
      expect((await call("GET", "/v1/users/me", { authorization: `Bearer ${mint(h, p)}` })).status).toBe(200);
      const cases: [string, string, string][] = [
        ["typ JWT", mint({ ...h, typ: "JWT" }, p), "INVALID_TOKEN"],
        ["a refresh-like typ claim", mint(h, { ...p, typ: "refresh" }), "INVALID_TOKEN"],
        ["another audience", mint(h, { ...p, aud: "someone-else" }), "INVALID_TOKEN"],
        ["another issuer", mint(h, { ...p, iss: "someone-else" }), "INVALID_TOKEN"],
        ["expired", mint(h, { ...p, exp: Math.floor(Date.now() / 1000) - 60 }), "TOKEN_EXPIRED"],
        ["not yet valid", mint(h, { ...p, nbf: Math.floor(Date.now() / 1000) + 600 }), "INVALID_TOKEN"],
        ["another user's session", mint(h, { ...p, sid: other.sessionId }), "SESSION_ENDED"],
      ];
      for (const [name, token, reason] of cases) {
        expect(answer(await call("GET", "/v1/users/me", { authorization: `Bearer ${token}` })), name).toEqual(
          [401, reason],
        );
      }
    },
  );
});

describe("findings of the review, fixed (docs/security.md)", () => {
  it("a file deleted for good drops out of its grantees' accessible list", async () => {
    const [owner, reader] = [await signup(), await signup()];
    const f = await upload(owner, "", `gone-${randomUUID()}.txt`, Buffer.from("x"));
    const g = await call("POST", `/v1/files/${f.id}/grants`, owner.auth, {
      subject: `user:${reader.id}`,
      role: "viewer",
    });
    expect(g.status).toBe(200);
    const listed = async () =>
      (await call("GET", "/v1/permissions/accessible?pageSize=1000", reader.auth)).body.resources?.map(
        (r: { resource: string }) => r.resource,
      ) ?? [];
    expect(await listed()).toContain(`file:${f.id}`);
    expect((await call("DELETE", `/v1/files/${f.id}?permanent=true`, owner.auth)).status).toBe(200);
    expect(answer(await call("GET", `/v1/files/${f.id}`, reader.auth))).toEqual([404, "FILE_NOT_FOUND"]);
    // The reader can no longer read it, so the list must not name it.
    expect(await listed()).not.toContain(`file:${f.id}`);
  });
});
