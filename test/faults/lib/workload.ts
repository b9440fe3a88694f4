// The mixed workload: W users, each a loop of logins and refreshes, uploads (raw REST, upload
// sessions, resumable gRPC WriteUpload), downloads, grants and group changes checked on every
// permission replica with the returned revision, and share-link downloads. Whatever the
// service acknowledged is remembered for the checker; anything that contradicts an
// acknowledgement at once (a grant not in force, a download with other bytes) is a violation.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { filev1, permissionv1 } from "@filemesh/contracts";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { GiveUp, grpcAttempt, RETRYABLE, type Recorder, type RestClient, restClient } from "./client.js";
import type { Cluster } from "./cluster.js";

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A tus PATCH answered with these is resumed after a HEAD (409: the offset moved on — an earlier answer was lost). */
const RETRYABLE_HTTP = new Set([409, 429, 502, 503, 504]);

export interface User {
  id: string;
  email: string;
  password: string;
  access: string;
  refresh: string;
  sessionId: string;
}

export interface AckedUpload {
  owner: User;
  fileId: string;
  sha256: string;
  size: number;
  via: "raw" | "session" | "stream" | "tus";
}

export interface AckedRelation {
  /** What a Check asks. */
  subject: User;
  resource: string;
  /** The revision the write returned. */
  revision: bigint;
  /** In force (grant, membership) or revoked. */
  allowed: boolean;
  what: string;
}

export interface Acks {
  uploads: AckedUpload[];
  /** Latest state per (subject, resource) pair. */
  relations: Map<string, AckedRelation>;
  /** Access tokens of sessions that were logged out (acknowledged). */
  loggedOut: { user: User; access: string }[];
  violations: string[];
  /** Calls that ran out of retries (GiveUp) per op. */
  gaveUp: Map<string, number>;
  ops: Map<string, number>;
  /** Logins again after SESSION_ENDED (a Redis flush ends every session). */
  relogins: number;
}

export interface Workload {
  acks: Acks;
  users: User[];
  rest: RestClient;
  /** Stops the loops and waits for them. */
  stop(): Promise<void>;
  /** Direct Check on every permission replica. */
  checkAll(subject: User, resource: string, minRevision: bigint): Promise<boolean[]>;
  close(): void;
}

export interface WorkloadOptions {
  workers?: number;
  /** Pause between operations of one worker (keeps the two cores for the mesh). */
  pauseMs?: number;
}

export async function startWorkload(
  c: Cluster,
  rec: Recorder,
  opts: WorkloadOptions = {},
): Promise<Workload> {
  const rest = restClient({ base: c.gateway, rec });
  const acks: Acks = {
    uploads: [],
    relations: new Map(),
    loggedOut: [],
    violations: [],
    gaveUp: new Map(),
    ops: new Map(),
    relogins: 0,
  };
  const permClients = c.replicas.permission.map(
    (r) => new permissionv1.PermissionServiceClient(r.addr, credentials.createInsecure()),
  );
  const grpcFile = new filev1.FileServiceClient(c.gatewayGrpc, credentials.createInsecure());
  /** A user's session for the client: logs in again when a Redis flush ended it. */
  const sess = (u: User) => ({
    get access() {
      return u.access;
    },
    relogin: async () => {
      acks.relogins++;
      Object.assign(u, await login(u.email, u.password));
    },
  });

  const ok = (what: string, r: { status: number; body: any }) => {
    if (r.status < 200 || r.status >= 300)
      throw new Violation(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`);
    return r.body;
  };

  async function signup(): Promise<User> {
    const email = `f-${randomUUID()}@example.com`;
    const password = `pw-${randomBytes(9).toString("hex")}`;
    // Register is not idempotent: a retry after a lost answer finds the account taken, which
    // the login below then uses.
    const reg = await rest.request("register", "POST", "/v1/auth:register", {
      json: { email, password, displayName: "faults" },
      retry: "idempotent",
    });
    if (reg.status !== 200 && reg.status !== 409) ok("register", reg);
    return { email, password, ...(await login(email, password)) };
  }
  async function login(email: string, password: string) {
    // A login retried after a lost answer makes one more session: harmless, so retried.
    const r = ok(
      "login",
      await rest.request("login", "POST", "/v1/auth:login", {
        json: { email, password },
        retry: "idempotent",
      }),
    );
    return { id: r.userId, access: r.accessToken, refresh: r.refreshToken, sessionId: r.sessionId };
  }

  async function checkAll(subject: User, resource: string, minRevision: bigint): Promise<boolean[]> {
    return Promise.all(
      permClients.map(async (client, i) => {
        const until = Date.now() + 45_000;
        for (let n = 0; ; n++) {
          const start = Date.now();
          const md = new Metadata();
          md.set("authorization", `Bearer ${subject.access}`);
          const res = await new Promise<{ err: ServiceError | null; allowed: boolean }>((resolve) =>
            client.check(
              {
                subject: `user:${subject.id}`,
                resource,
                permission: "read",
                minRevision: String(minRevision),
              },
              md,
              { deadline: Date.now() + 10_000 },
              (err, r) => resolve({ err, allowed: !!r?.allowed }),
            ),
          );
          const a = grpcAttempt(`check@permission#${i}`, start, res.err, true);
          if (a.reason === "SESSION_ENDED" && Date.now() < until) {
            rec.add({ ...a, final: false });
            await sess(subject).relogin();
            continue;
          }
          if (!res.err) {
            rec.add(a);
            return res.allowed;
          }
          const delay = a.retryAfterMs || Math.min(2000, 100 * 1.6 ** n);
          if (!RETRYABLE.has(a.code) && a.code !== "DEADLINE_EXCEEDED") {
            rec.add(a);
            throw new Violation(`check on permission#${i}: ${a.code} ${a.reason}`);
          }
          if (Date.now() + delay > until) {
            rec.add(a);
            throw new GiveUp(a.op, a);
          }
          rec.add({ ...a, final: false });
          await sleep(delay);
        }
      }),
    );
  }

  const users: User[] = [];
  const workers = opts.workers ?? 4;
  for (let i = 0; i < workers; i++) users.push(await signup());
  const peerOf = (u: User) => users[(users.indexOf(u) + 1) % users.length]!;

  // Each owner has a group whose members can read one shared folder.
  const groups = new Map<User, { groupId: string; folder: string; members: Set<string> }>();
  for (const u of users) {
    const g = ok(
      "create group",
      await rest.request("createGroup", "POST", `/v1/groups?requestId=${randomUUID()}`, {
        json: { name: `g-${u.id.slice(0, 8)}` },
        session: sess(u),
        retry: "idempotent",
      }),
    );
    const folder = ok(
      "create folder",
      await rest.request("createFolder", "POST", "/v1/folders", {
        json: { name: `shared-${randomUUID()}`, requestId: randomUUID() },
        session: sess(u),
        retry: "idempotent",
      }),
    );
    ok(
      "grant folder to group",
      await rest.request("createGrant", "POST", `/v1/files/${folder.id}/grants?requestId=${randomUUID()}`, {
        json: { subject: `group:${g.id}`, role: "viewer" },
        session: sess(u),
        retry: "idempotent",
      }),
    );
    groups.set(u, { groupId: g.id, folder: folder.id, members: new Set() });
  }

  const ready = async (u: User) => {
    const mine = acks.uploads.filter((x) => x.owner === u);
    const pick = mine[Math.floor(Math.random() * mine.length)];
    if (!pick) return undefined;
    const f = ok(
      "get file",
      await rest.request("getFile", "GET", `/v1/files/${pick.fileId}`, {
        session: sess(u),
        retry: "idempotent",
      }),
    );
    return f.state === "READY" ? pick : undefined;
  };

  const ops: Record<string, (u: User) => Promise<void>> = {
    async sessions(u) {
      // A second session: refreshed, then logged out; its access token must die with it.
      const s = await login(u.email, u.password);
      const r = await rest.request("refresh", "POST", "/v1/auth:refresh", {
        json: { refreshToken: s.refresh },
      });
      let access = s.access;
      if (r.status === 200) access = r.body.accessToken;
      // Refresh is single use, so not retried: a lost answer leaves the first access token; a
      // Redis flush (401) took the session with it.
      else if (r.status === 401) return;
      else if (r.status !== 503 && r.status !== 429 && r.status !== 409) ok("refresh", r);
      const out = await rest.request("logout", "POST", "/v1/auth:logout", {
        json: {},
        headers: { authorization: `Bearer ${access}` },
        retry: "idempotent",
      });
      const ended = out.status === 401 && out.body?.details?.some((d: any) => d.reason === "SESSION_ENDED");
      if (!ended) ok("logout", out);
      acks.loggedOut.push({ user: u, access });
      // The main session is refreshed too (single use: a lost answer ends in a new login).
      const m = await rest.request("refresh", "POST", "/v1/auth:refresh", {
        json: { refreshToken: u.refresh },
      });
      if (m.status === 200) Object.assign(u, { access: m.body.accessToken, refresh: m.body.refreshToken });
      else Object.assign(u, await login(u.email, u.password));
    },
    async raw(u) {
      const data = randomBytes(1024 + Math.floor(Math.random() * 48 * 1024));
      const sum = sha256(data);
      const q = `name=raw-${randomUUID()}.bin&sha256=${sum}&requestId=${randomUUID()}`;
      const f = ok(
        "raw upload",
        await rest.request("uploadRaw", "POST", `/v1/files:upload?${q}`, {
          raw: data,
          session: sess(u),
          retry: "idempotent",
        }),
      );
      acks.uploads.push({ owner: u, fileId: f.id, sha256: sum, size: data.length, via: "raw" });
    },
    async session(u) {
      const data = randomBytes(16 * 1024 + Math.floor(Math.random() * 96 * 1024));
      const sum = sha256(data);
      const s = ok(
        "create upload",
        await rest.request("createUpload", "POST", "/v1/uploads", {
          json: {
            name: `s-${randomUUID()}.bin`,
            sizeBytes: String(data.length),
            sha256: sum,
            requestId: randomUUID(),
          },
          session: sess(u),
          retry: "idempotent",
        }),
      );
      const partSize = Number(s.partSizeBytes);
      for (let n = 1; n <= s.partCount; n++) {
        ok(
          "upload part",
          await rest.request("uploadPart", "PUT", `/v1/uploads/${s.id}/parts/${n}`, {
            raw: data.subarray((n - 1) * partSize, n * partSize),
            session: sess(u),
            retry: "idempotent",
          }),
        );
      }
      const f = ok(
        "complete upload",
        await rest.request("completeUpload", "POST", `/v1/uploads/${s.id}:complete`, {
          json: {},
          session: sess(u),
          retry: "idempotent",
        }),
      );
      acks.uploads.push({ owner: u, fileId: f.id, sha256: sum, size: data.length, via: "session" });
    },
    async stream(u) {
      const data = randomBytes(32 * 1024 + Math.floor(Math.random() * 160 * 1024));
      const sum = sha256(data);
      const s = ok(
        "create stream upload",
        await rest.request("createUpload", "POST", "/v1/uploads", {
          json: {
            name: `w-${randomUUID()}.bin`,
            sizeBytes: String(data.length),
            sha256: sum,
            method: "UPLOAD_METHOD_STREAM",
            requestId: randomUUID(),
          },
          session: sess(u),
          retry: "idempotent",
        }),
      );
      const until = Date.now() + 60_000;
      for (let n = 0; ; n++) {
        // Resume from what the service committed (any replica).
        const got = ok(
          "get upload",
          await rest.request("getUpload", "GET", `/v1/uploads/${s.id}`, {
            session: sess(u),
            retry: "idempotent",
          }),
        );
        if (got.state === "UPLOAD_STATE_COMPLETED" && got.fileId) {
          acks.uploads.push({ owner: u, fileId: got.fileId, sha256: sum, size: data.length, via: "stream" });
          return;
        }
        const offset = Number(got.committedSizeBytes ?? 0);
        const start = Date.now();
        const res = await new Promise<{ err: ServiceError | null; file?: filev1.File }>((resolve) => {
          const md = new Metadata();
          md.set("authorization", `Bearer ${u.access}`);
          const w = grpcFile.writeUpload(md, { deadline: Date.now() + 30_000 }, (err, r) =>
            resolve({ err, ...(r?.file ? { file: r.file } : {}) }),
          );
          const rest = data.subarray(offset);
          const step = 32 * 1024;
          for (let i = 0; i < Math.max(rest.length, 1); i += step) {
            w.write(
              filev1.WriteUploadRequest.fromPartial({
                ...(i === 0 ? { uploadId: s.id, writeOffset: String(offset) } : {}),
                data: rest.subarray(i, i + step),
                finishWrite: i + step >= rest.length,
              }),
            );
          }
          w.end();
        });
        const a = grpcAttempt("writeUpload", start, res.err, true);
        if (a.reason === "SESSION_ENDED" && Date.now() < until) {
          rec.add({ ...a, final: false });
          await sess(u).relogin();
          continue;
        }
        if (!res.err && res.file) {
          rec.add(a);
          acks.uploads.push({ owner: u, fileId: res.file.id, sha256: sum, size: data.length, via: "stream" });
          return;
        }
        const delay = a.retryAfterMs || Math.min(2000, 100 * 1.6 ** n);
        if (!RETRYABLE.has(a.code) || Date.now() + delay > until) {
          rec.add(a);
          if (RETRYABLE.has(a.code)) throw new GiveUp("writeUpload", a);
          throw new Violation(`writeUpload: ${a.code} ${a.reason}`);
        }
        rec.add({ ...a, final: false });
        await sleep(delay);
      }
    },
    async tus(u) {
      // tus 1.0.0 as a tus client does it: create, PATCH in two halves; whenever a PATCH fails
      // (or its answer is lost), HEAD says where the upload stands and the client goes on from
      // there — never resending bytes the server has.
      const data = randomBytes(8 * 1024 + Math.floor(Math.random() * 96 * 1024));
      const sum = sha256(data);
      const tusHeaders = { "tus-resumable": "1.0.0" };
      const name = Buffer.from(`t-${randomUUID()}.bin`).toString("base64");
      const created = await rest.request("tusCreate", "POST", "/v1/tus/", {
        headers: {
          ...tusHeaders,
          "upload-length": String(data.length),
          "upload-metadata": `filename ${name}`,
        },
        session: sess(u),
        retry: "idempotent", // a lost answer leaves an upload that expires (its quota with it)
      });
      if (created.status !== 201) ok("tus create", created);
      const path = new URL(created.headers.get("location") ?? "", rest.base).pathname;
      const half = Math.ceil(data.length / 2);
      let offset = 0;
      for (let round = 0; offset < data.length; round++) {
        if (round > 30) throw new Violation(`tus ${path}: no progress at offset ${offset}`);
        const patched = await rest
          .request("tusPatch", "PATCH", path, {
            raw: data.subarray(offset, Math.min(data.length, offset + half)),
            headers: {
              ...tusHeaders,
              "upload-offset": String(offset),
              "content-type": "application/offset+octet-stream",
            },
            session: sess(u),
            retry: "never",
            resumable: true,
          })
          .catch((err: unknown) => {
            if (err instanceof GiveUp) return undefined; // the connection broke: ask where it stands
            throw err;
          });
        if (patched?.status === 204) {
          offset = Number(patched.headers.get("upload-offset"));
          continue;
        }
        if (patched && !RETRYABLE_HTTP.has(patched.status)) ok("tus patch", patched);
        await sleep(Number(patched?.headers.get("retry-after") ?? "0") * 1000 || 200);
        const at = await rest.request("tusHead", "HEAD", path, {
          headers: tusHeaders,
          session: sess(u),
          retry: "idempotent",
        });
        ok("tus head", at);
        offset = Number(at.headers.get("upload-offset"));
      }
      const id = path.split("/").pop() ?? "";
      const up = ok(
        "tus upload",
        await rest.request("getUpload", "GET", `/v1/uploads/${id}`, {
          session: sess(u),
          retry: "idempotent",
        }),
      );
      if (!up.fileId) throw new Violation(`tus ${path}: complete but no file (${JSON.stringify(up)})`);
      acks.uploads.push({ owner: u, fileId: up.fileId, sha256: sum, size: data.length, via: "tus" });
    },
    async download(u) {
      const f = await ready(u);
      if (!f) return;
      const r = await rest.request("download", "GET", `/v1/files/${f.fileId}/content`, {
        session: sess(u),
        retry: "idempotent",
      });
      ok("download", r);
      if (sha256(r.bytes) !== f.sha256) acks.violations.push(`download of ${f.fileId}: other bytes`);
    },
    async link(u) {
      const f = await ready(u);
      if (!f) return;
      const link = ok(
        "create link",
        await rest.request(
          "createShareLink",
          "POST",
          `/v1/files/${f.fileId}/links?requestId=${randomUUID()}`,
          {
            json: { role: "viewer" },
            session: sess(u),
            retry: "idempotent",
          },
        ),
      );
      const got = await rest.request("linkDownload", "GET", `/v1/links/${link.token}/content`, {
        retry: "idempotent",
      });
      ok("link download", got);
      if (sha256(got.bytes) !== f.sha256) acks.violations.push(`link download of ${f.fileId}: other bytes`);
    },
    async grant(u) {
      const f = await ready(u);
      if (!f) return;
      const peer = peerOf(u);
      const g = ok(
        "create grant",
        await rest.request("createGrant", "POST", `/v1/files/${f.fileId}/grants?requestId=${randomUUID()}`, {
          json: { subject: `user:${peer.id}`, role: "viewer" },
          session: sess(u),
          retry: "idempotent",
        }),
      );
      const resource = `file:${f.fileId}`;
      let rel: AckedRelation = {
        subject: peer,
        resource,
        revision: BigInt(g.revision),
        allowed: true,
        what: `grant ${g.id}`,
      };
      acks.relations.set(`${peer.id} ${resource}`, rel);
      const seen = await checkAll(peer, resource, rel.revision);
      if (!seen.every(Boolean))
        acks.violations.push(`${rel.what} at revision ${rel.revision}: checks ${seen}`);
      if (Math.random() < 0.5) {
        const d = ok(
          "delete grant",
          await rest.request("deleteGrant", "DELETE", `/v1/files/${f.fileId}/grants/${g.id}`, {
            session: sess(u),
            retry: "idempotent",
          }),
        );
        rel = { ...rel, revision: BigInt(d.revision), allowed: false, what: `revoke ${g.id}` };
        acks.relations.set(`${peer.id} ${resource}`, rel);
        const after = await checkAll(peer, resource, rel.revision);
        if (after.some(Boolean))
          acks.violations.push(`${rel.what} at revision ${rel.revision}: checks ${after}`);
      }
    },
    async group(u) {
      const g = groups.get(u)!;
      const peer = peerOf(u);
      const resource = `file:${g.folder}`;
      let revision: string;
      const member = g.members.has(peer.id);
      if (!member) {
        revision = ok(
          "add member",
          await rest.request("addGroupMember", "POST", `/v1/groups/${g.groupId}/members`, {
            json: { member: `user:${peer.id}`, role: "member", requestId: randomUUID() },
            session: sess(u),
            retry: "idempotent",
          }),
        ).revision;
        g.members.add(peer.id);
      } else {
        revision = ok(
          "remove member",
          // With a request id: a retry after an attempt that removed the member but lost its
          // answer (a store cut at commit) answers that attempt's revision, not MEMBER_NOT_FOUND.
          await rest.request(
            "removeGroupMember",
            "DELETE",
            `/v1/groups/${g.groupId}/members/${peer.id}?requestId=${randomUUID()}`,
            {
              session: sess(u),
              retry: "idempotent",
            },
          ),
        ).revision;
        g.members.delete(peer.id);
      }
      const rel: AckedRelation = {
        subject: peer,
        resource,
        revision: BigInt(revision),
        allowed: !member,
        what: `${member ? "removal from" : "membership of"} group ${g.groupId}`,
      };
      acks.relations.set(`${peer.id} ${resource}`, rel);
      const seen = await checkAll(peer, resource, rel.revision);
      if (seen.some((s) => s !== rel.allowed))
        acks.violations.push(`${rel.what} at revision ${rel.revision}: checks ${seen}`);
    },
  };
  const weights: [string, number][] = [
    ["raw", 3],
    ["session", 2],
    ["stream", 2],
    ["tus", 2],
    ["download", 3],
    ["link", 1],
    ["grant", 2],
    ["group", 2],
    ["sessions", 1],
  ];
  const total = weights.reduce((s, [, w]) => s + w, 0);
  const pick = () => {
    let x = Math.random() * total;
    for (const [k, w] of weights) {
      x -= w;
      if (x < 0) return k;
    }
    return "raw";
  };

  let running = true;
  const loops = users.map(async (u) => {
    while (running) {
      const op = pick();
      acks.ops.set(op, (acks.ops.get(op) ?? 0) + 1);
      try {
        await ops[op]!(u);
      } catch (err) {
        if (err instanceof GiveUp) acks.gaveUp.set(err.op, (acks.gaveUp.get(err.op) ?? 0) + 1);
        else acks.violations.push(`${op}: ${(err as Error).message}`);
      }
      await sleep(opts.pauseMs ?? 20);
    }
  });
  return {
    acks,
    users,
    rest,
    checkAll,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    close() {
      for (const p of permClients) p.close();
      grpcFile.close();
    },
  };
}

export class Violation extends Error {}
