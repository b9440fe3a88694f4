// Fail closed (docs/reliability.md "Access control", issue 5 item 7): with its Redis gone the
// service answers UNAVAILABLE (never allow), keeps committing internal writes to Postgres and
// recovers by itself; a replica cut off from Postgres turns NOT_SERVING and answers
// UNAVAILABLE instead of a possibly stale answer; a revision from the future is refused.
// Private redis-server and a TCP proxy in front of Postgres: the shared ones are never touched.

import { Redis, runKeyPrefix } from "@filemesh/kit";
import { call, failure, testDatabaseUrl } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHealth, waitServing } from "../../../scripts/lib/health.mjs";
import { type AclMesh, startAclMesh } from "./acl-mesh.js";
import { type OwnRedis, startOwnRedis } from "./own-redis.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

let redis: OwnRedis;
let proxy: TcpProxy;
let t: AclMesh;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  redis = await startOwnRedis();
  const db = new URL(testDatabaseUrl());
  proxy = await startTcpProxy(db.hostname, Number(db.port || 5432));
  t = await startAclMesh({
    replicas: 1,
    env: { REDIS_URL: redis.url },
    permissionEnv: { ACL_POLL_INTERVAL: "200ms", ACL_MAX_STALENESS: "1s" },
  });
  // Replica 1 reaches Postgres through the proxy.
  db.port = String(proxy.port);
  await t.restart(1, { DATABASE_URL: db.toString() });
});
afterAll(async () => {
  await t?.stop();
  await proxy?.close();
  await redis?.stop();
});

async function sharedFile() {
  const owner = await t.mesh.newUser();
  const friend = await t.mesh.newUser();
  const f = t.newFile();
  const rev = await t.write([
    ["touch", f.ref, "owner", `user:${owner.userId}`],
    ["touch", f.ref, "editor", `user:${friend.userId}`],
  ]);
  for (const i of [0, 1])
    expect(await t.check(friend.headers, f.ref, "write", { i, minRevision: rev })).toBe(true);
  return { owner, friend, f };
}

describe("fail closed", () => {
  it("answers UNAVAILABLE without Redis, keeps writes, and is right again once Redis is back (empty)", async () => {
    const { friend, f } = await sharedFile();
    await redis.stop();
    await sleep(1200); // past the kit's 1 s positive session cache
    for (const i of [0, 1]) {
      const err = await failure(t.check(friend.headers, f.ref, "write", { i }));
      expect(err.code).toBe(status.UNAVAILABLE);
    }
    // Internal writes need no session: the revocation commits to Postgres.
    const rev = await t.write([["delete", f.ref, "editor", `user:${friend.userId}`]], { i: 0 });
    await redis.start();
    const { accessToken } = await call(t.mesh.auth.login.bind(t.mesh.auth), {
      email: friend.email,
      password: friend.password,
    });
    const headers = { authorization: `Bearer ${accessToken}` };
    for (const i of [0, 1])
      expect(await t.check(headers, f.ref, "write", { i, minRevision: rev })).toBe(false);
    // The stream works again: a new grant on replica 0 is seen on replica 1 with its revision.
    const back = await t.write([["touch", f.ref, "viewer", `user:${friend.userId}`]], { i: 0 });
    expect(await t.check(headers, f.ref, "read", { i: 1, minRevision: back })).toBe(true);
  });

  it("turns a replica cut off from Postgres NOT_SERVING and UNAVAILABLE, then back", async () => {
    const { friend, f } = await sharedFile();
    const addr = t.mesh.addr("permission", 1);
    expect(await checkHealth(addr)).toBe("SERVING");
    proxy.cut();
    try {
      const rev = await t.write([["delete", f.ref, "editor", `user:${friend.userId}`]], { i: 0 });
      await sleep(1500); // past ACL_MAX_STALENESS
      expect(await checkHealth(addr)).toBe("NOT_SERVING");
      for (const minRevision of ["", rev]) {
        const err = await failure(t.check(friend.headers, f.ref, "write", { i: 1, minRevision }));
        expect(err).toMatchObject({ code: status.UNAVAILABLE, reason: "INDEX_STALE" });
      }
    } finally {
      proxy.restore();
    }
    expect(await waitServing(addr, { timeoutMs: 10_000 })).toBe(true);
    expect(await t.check(friend.headers, f.ref, "write", { i: 1 })).toBe(false);
  });

  it("ignores a corrupt snapshot: a replica starting on it loads from Postgres and answers right", async () => {
    const { friend, f } = await sharedFile();
    const db = new pg.Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    const { instance } = (await db.query("SELECT instance FROM acl.meta")).rows[0];
    await db.end();
    // The mesh's keys carry its run prefix; this client adds it the same way.
    const r = new Redis(redis.url, { keyPrefix: runKeyPrefix(t.mesh.env.REDIS_PREFIX!) });
    const pointer = `fm:acl:{${instance}}:snapshot`;
    const header = {
      v: 1,
      instance,
      revision: 1,
      tuples: 2,
      chunks: 1,
      list: `${pointer}:bad`,
      createTime: "",
    };
    await r.set(pointer, JSON.stringify(header));
    await r.rpush(`${pointer}:bad`, "file:x\tviewer\tuser:y\tnot-a-number");
    r.disconnect();
    const svc = await t.restart(1, { ACL_SNAPSHOT_INTERVAL: "10m" });
    expect(svc.sync.loaded?.source).toBe("postgres");
    expect(await t.check(friend.headers, f.ref, "write", { i: 1 })).toBe(true);
    await svc.snapshots.writeNow();
  });

  it("refuses a revision from the future (FAILED_PRECONDITION), not a wait-then-allow", async () => {
    const { friend, f } = await sharedFile();
    const err = await failure(
      t.check(friend.headers, f.ref, "write", { i: 1, minRevision: "9007199254740000" }),
    );
    expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "REVISION_FROM_THE_FUTURE" });
  });
});
