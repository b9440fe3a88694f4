// The property test of issue 5: random users, nested groups, folder trees, grants (to users,
// groups and links) and expiries, written through WriteRelations on alternating replicas of a
// real mesh, then every Check (CheckBatch as an admin, Check and ListAccessible as each user)
// on every replica compared with the reference model — zero mismatches, also across a replica
// restart (cold start from the Redis snapshot), a Redis FLUSHALL mid-run (stream and snapshot
// gone) and a restart after it. Runs on a private redis-server so the flush hurts no one.
import type { permissionv1 } from "@filemesh/contracts";
import { call, uniqueId } from "@filemesh/kit/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAdmin } from "../../../scripts/admin.mjs";
import { PERMISSIONS } from "../src/domain/model.js";
import { type Cmd, commandsArb, universe } from "./acl-arbitraries.js";
import { type AclMesh, type Rel, startAclMesh } from "./acl-mesh.js";
import { type OwnRedis, startOwnRedis } from "./own-redis.js";
import { createModel } from "./reference-model.js";

type Login = { userId: string; email: string; password: string; headers: Record<string, string> };
const HOUR = 3_600_000;
const SOON_MS = 300;
// Expiry codes, resolved at write time: none, an hour ago, in an hour, in 300 ms.
const EXPIRY = { none: 0, past: 1, future: 2, soon: 3 };

let redis: OwnRedis;
let t: AclMesh;
let users: Login[];
let admin: Login;
const adminEmail = `${uniqueId("admin")}@example.com`;

async function login(u: { email: string; password: string }): Promise<Record<string, string>> {
  const res = await call(t.mesh.auth.login.bind(t.mesh.auth), { email: u.email, password: u.password });
  return { authorization: `Bearer ${res.accessToken}` };
}

beforeAll(async () => {
  redis = await startOwnRedis();
  t = await startAclMesh({
    replicas: 2,
    env: { REDIS_URL: redis.url },
    // No periodic snapshot during the test: the restart after the flush must load from Postgres.
    permissionEnv: { ACL_SNAPSHOT_INTERVAL: "10m" },
  });
  users = await Promise.all([1, 2, 3, 4].map(() => t.mesh.newUser()));
  const password = "admin-password-for-tests";
  await call(t.mesh.auth.register.bind(t.mesh.auth), { email: adminEmail, password, displayName: "admin" });
  await setAdmin({ databaseUrl: t.mesh.env.DATABASE_URL }, adminEmail, true);
  admin = { userId: "", email: adminEmail, password, headers: await login({ email: adminEmail, password }) };
});
afterAll(async () => {
  await t?.stop();
  await redis?.stop();
});

/** The template universe's ids → this run's (fresh files, groups, links; the real users). */
function renamer(run: string) {
  const template = universe("P");
  const map = new Map<string, string>();
  for (const [i, u] of template.users.entries()) map.set(u, `user:${users[i]!.userId}`);
  for (const x of [...template.groups, ...template.files, ...template.links])
    map.set(x, x.replace(":P-", `:${run}-`));
  return { template, of: (s: string) => map.get(s) ?? s };
}

describe("permission service against the reference model", () => {
  it("has zero mismatches across replicas, a restart, a Redis FLUSHALL and a restart after it", async () => {
    let run = 0;
    const events: string[] = [];
    const template = universe("P");
    const arb = fc.tuple(commandsArb(template, Object.values(EXPIRY), 25), fc.integer({ min: 1, max: 3 }));
    await fc.assert(
      fc.asyncProperty(arb, async ([cmds, batches]) => {
        run++;
        const name = uniqueId("r");
        const { of } = renamer(name);
        const model = createModel();
        let revision = "0";
        let soonUntil = 0;
        const per = Math.ceil(cmds.length / batches);
        for (let b = 0; b * per < cmds.length; b++) {
          const now = Date.now();
          const resolved = cmds.slice(b * per, (b + 1) * per).map((c: Cmd) => {
            const code = c.tuple.expireAt;
            const expireAt = [0, now - HOUR, now + HOUR, now + SOON_MS][code] ?? 0;
            if (code === EXPIRY.soon) soonUntil = Math.max(soonUntil, expireAt);
            return {
              op: c.op,
              tuple: { ...c.tuple, object: of(c.tuple.object), subject: of(c.tuple.subject), expireAt },
            };
          });
          const rels: Rel[] = resolved.map(
            (c) =>
              [
                c.op,
                c.tuple.object,
                c.tuple.relation,
                c.tuple.subject,
                ...(c.tuple.expireAt ? [new Date(c.tuple.expireAt)] : []),
              ] as Rel,
          );
          // Files are the file service's, groups the user service's (independent slots, so
          // splitting one batch in two changes nothing).
          for (const [caller, prefix] of [
            ["file", "file:"],
            ["user", "group:"],
          ] as const) {
            const part = rels.filter((r) => r[1].startsWith(prefix));
            if (part.length) revision = await t.write(part, { i: b % 2, caller });
          }
          for (const c of resolved) model.apply(c.op, c.tuple);
          if (b === 0) await disrupt(run, events);
        }
        // Let every "soon" expiry pass well before the checks (no write happens meanwhile).
        const wait = soonUntil + 100 - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await compare(model, name, revision);
      }),
      { numRuns: 24, endOnFailure: true },
    );
    expect(events).toEqual(["restart:redis", "flushall", "restart:postgres"]);
  });
});

/** Mid-run faults: a restart at run 6, FLUSHALL at run 12, a restart right after it at run 13. */
async function disrupt(run: number, events: string[]): Promise<void> {
  if (run === 6 || run === 13) {
    const svc = await t.restart(1);
    events.push(`restart:${svc.sync.loaded?.source}`);
  }
  if (run === 12) {
    await redis.flushAll();
    events.push("flushall");
    admin.headers = await login(admin);
    for (const u of users) u.headers = await login(u);
  }
}

async function compare(model: ReturnType<typeof createModel>, run: string, revision: string): Promise<void> {
  const { template, of } = renamer(run);
  const files = template.files.map(of);
  const subjects = [...template.users, ...template.groups, ...template.links].map(of);
  const now = Date.now();
  const items = subjects.flatMap((subject) =>
    files.flatMap((resource) => PERMISSIONS.map((permission) => ({ subject, resource, permission }))),
  );
  for (const [i, client] of t.clients.entries()) {
    const res = await call(client.checkBatch.bind(client), { items, minRevision: revision }, admin.headers);
    const got = items.map((it, k) => `${it.subject} ${it.permission} ${it.resource}: ${res.allowed[k]}`);
    const want = items.map(
      (it) =>
        `${it.subject} ${it.permission} ${it.resource}: ${model.check(it.subject, it.resource, it.permission, now)}`,
    );
    expect(got, `CheckBatch on replica ${i}`).toEqual(want);
    for (const u of users) {
      const subject = `user:${u.userId}`;
      for (const resource of files.slice(0, 3)) {
        const allowed = await t.check(u.headers, resource, "read", { i, minRevision: revision });
        expect(allowed, `Check ${subject} read ${resource} on replica ${i}`).toBe(
          model.check(subject, resource, "read", now),
        );
      }
      const listed = await listAll(u.headers, i, revision);
      const mine = listed
        .filter((r) => r.resource.startsWith(`file:${run}-`))
        .map((r) => `${r.resource}=${r.role}`);
      const expected = model
        .accessible(subject, "read", now)
        .map((r) => `${r.resource}=${["", "viewer", "editor", "owner"][r.rank]}`);
      expect(mine, `ListAccessible ${subject} on replica ${i}`).toEqual(expected);
    }
  }
}

async function listAll(headers: Record<string, string>, i: number, minRevision: string) {
  const out: permissionv1.AccessibleResource[] = [];
  let pageToken = "";
  do {
    const page = await t.listAccessible(headers, { i, pageSize: 3, pageToken, minRevision });
    out.push(...page.resources);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return out;
}
