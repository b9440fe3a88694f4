// REST conformance: the processor's admin routes (docs/architecture.md §7) — the audit log with its
// filters and paging, dead-letter redrive. The mesh gets a database and a nats-server of its
// own, so the audit log holds exactly this file's events.
import { type OwnNats, ownNatsServer } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../scripts/admin.mjs";
import { eventually, privateDatabase } from "../../services/processor/test/support.js";
import { reasonOf, rest, startTarget, type Target } from "./target.js";

const ADMIN = `rest-audit-admin-${Date.now()}@example.com`;
const PASSWORD = "a long rest passphrase";
let t: Target;
let nats: OwnNats | undefined;
let db: Awaited<ReturnType<typeof privateDatabase>> | undefined;
let admin: Record<string, string>;

const post = (path: string, body: unknown, headers?: Record<string, string>) =>
  rest(t.base, "POST", path, body, headers);

async function signup(email: string, asAdmin = false) {
  const reg = await post("/v1/auth:register", { email, password: PASSWORD, displayName: "Audit" });
  expect(reg.status).toBe(200);
  if (asAdmin) await setAdmin({ databaseUrl: t.mesh?.env.DATABASE_URL }, email, true);
  const login = await post("/v1/auth:login", { email, password: PASSWORD });
  expect(login.status).toBe(200);
  return { id: reg.body.user.id as string, auth: { authorization: `Bearer ${login.body.accessToken}` } };
}

beforeAll(async () => {
  const external = Boolean(process.env.CONFORMANCE_BASE_URL);
  if (!external) {
    db = await privateDatabase();
    nats = await ownNatsServer();
  }
  t = await startTarget({
    services: ["auth", "permission", "user", "processor"],
    ...(db && nats ? { env: { DATABASE_URL: db.url, NATS_URL: nats.url } } : {}),
  });
  admin = (await signup(ADMIN, true)).auth;
});

afterAll(async () => {
  await t?.stop();
  await nats?.cleanup();
  await db?.drop();
});

describe("GET /v1/admin/audit-events", () => {
  let user: { id: string; auth: Record<string, string> };
  let groupId = "";

  it("lists a user's events, filtered by resource and type, newest first", async () => {
    user = await signup(`rest-audit-${Date.now()}@example.com`);
    const group = await post("/v1/groups", { name: "auditors" }, user.auth);
    expect(group.status).toBe(200);
    groupId = group.body.id;

    const mine = await eventually("the user's registration in the audit log", async () => {
      const r = await rest(
        t.base,
        "GET",
        `/v1/admin/audit-events?resource=user:${user.id}`,
        undefined,
        admin,
      );
      expect(r.status).toBe(200);
      return r.body.events?.length > 0 ? r.body.events : undefined;
    });
    expect(mine.every((e: { resource: string }) => e.resource === `user:${user.id}`)).toBe(true);
    const registered = mine.find((e: { type: string }) => e.type.endsWith("user_registered"));
    expect(registered).toMatchObject({ actor: `user:${user.id}`, resource: `user:${user.id}` });
    expect(typeof registered.eventId).toBe("string");
    expect(Date.parse(registered.occurTime)).toBeGreaterThan(0);
    expect(JSON.parse(registered.payloadJson)).toBeTypeOf("object");

    const byActor = await eventually("the group's creation in the audit log", async () => {
      const r = await rest(
        t.base,
        "GET",
        `/v1/admin/audit-events?actor=user:${user.id}&type=${encodeURIComponent("filemesh.users.group_created")}`,
        undefined,
        admin,
      );
      expect(r.status).toBe(200);
      return r.body.events?.length > 0 ? r.body.events : undefined;
    });
    expect(byActor).toHaveLength(1);
    expect(byActor[0]).toMatchObject({ type: "filemesh.users.group_created", actor: `user:${user.id}` });
    expect(byActor[0].resource).toContain(groupId);
  });

  it("pages with pageSize and nextPageToken, without repeats, newest first", async () => {
    const seen: { eventId: string; occurTime: string }[] = [];
    let token = "";
    for (let i = 0; i < 50; i++) {
      const q = `/v1/admin/audit-events?pageSize=2${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
      const r = await rest(t.base, "GET", q, undefined, admin);
      expect(r.status).toBe(200);
      expect(r.body.events.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.events);
      token = r.body.nextPageToken ?? "";
      if (!token) break;
    }
    expect(token).toBe("");
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seen.map((e) => e.eventId)).size).toBe(seen.length);
    const times = seen.map((e) => Date.parse(e.occurTime));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("filters by time range", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const r = await rest(
      t.base,
      "GET",
      `/v1/admin/audit-events?startTime=${encodeURIComponent(future)}`,
      undefined,
      admin,
    );
    expect(r.status).toBe(200);
    expect(r.body.events ?? []).toEqual([]);
  });

  it("is for admins only: 401 without a token, 403 for a user", async () => {
    const anon = await rest(t.base, "GET", "/v1/admin/audit-events");
    expect([anon.status, reasonOf(anon.body)]).toEqual([401, "MISSING_TOKEN"]);
    const denied = await rest(t.base, "GET", "/v1/admin/audit-events", undefined, user.auth);
    expect([denied.status, reasonOf(denied.body)]).toEqual([403, "ADMIN_REQUIRED"]);
  });

  it("bad parameters are 400 with a reason", async () => {
    const token = await rest(t.base, "GET", "/v1/admin/audit-events?pageToken=garbage", undefined, admin);
    expect([token.status, reasonOf(token.body)]).toEqual([400, "INVALID_PAGE_TOKEN"]);
    const size = await rest(t.base, "GET", "/v1/admin/audit-events?pageSize=-1", undefined, admin);
    expect([size.status, reasonOf(size.body)]).toEqual([400, "INVALID_PAGE_SIZE"]);
    // Not a timestamp: the gateway refuses it before the call (the service would say INVALID_TIME).
    const time = await rest(t.base, "GET", "/v1/admin/audit-events?startTime=yesterday", undefined, admin);
    expect([time.status, reasonOf(time.body)]).toEqual([400, "INVALID_REQUEST"]);
  });
});

describe("POST /v1/admin/dead-letters:redrive", () => {
  it("redrives nothing when the ids are unknown; users get 403", async () => {
    const r = await post(
      "/v1/admin/dead-letters:redrive",
      { eventIds: ["00000000-0000-4000-8000-000000000000"] },
      admin,
    );
    expect(r.status).toBe(200);
    expect(r.body.redriven ?? 0).toBe(0);
    const u = await signup(`rest-redrive-${Date.now()}@example.com`);
    const denied = await post("/v1/admin/dead-letters:redrive", {}, u.auth);
    expect(denied.status).toBe(403);
  });
});
