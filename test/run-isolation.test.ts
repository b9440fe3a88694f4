// Two meshes on the same NATS and Redis (as the tests beside `npm start`) keep to themselves:
// on databases of their own each has its own streams, subjects and durable consumers
// (RUN_PREFIX), and each has its own Redis keys (REDIS_PREFIX) even on one database, so neither
// takes the other's events nor counts the other's failed logins (services/kit/src/run-prefix.ts).
import { randomBytes } from "node:crypto";
import { runName, runSubject } from "@filemesh/kit";
import { call, failure, privateDatabase, testRunPrefix } from "@filemesh/kit/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "./harness/mesh.js";

const FREE = 2;
const settings = { LOGIN_FREE_ATTEMPTS: String(FREE), LOGIN_BACKOFF_BASE: "30s", LOGIN_BACKOFF_MAX: "1m" };
let a: TestMesh;
let b: TestMesh;
// Two meshes on the test file's database (their events share its outbox, and so its streams).
let c: TestMesh;
let d: TestMesh;
let nc: NatsConnection;
const dbs: { drop(): Promise<void> }[] = [];

beforeAll(async () => {
  const start = (env: Record<string, string>) =>
    startTestMesh({ services: ["auth", "user"], env, serviceEnv: { auth: settings } });
  const own = await Promise.all([privateDatabase(), privateDatabase()]);
  dbs.push(...own);
  [a, b] = (await Promise.all(own.map((db) => start({ DATABASE_URL: db.url })))) as [TestMesh, TestMesh];
  // One pepper, so an account registered at one mesh logs in at the other.
  const pepper = { PASSWORD_PEPPER: randomBytes(32).toString("base64url") };
  [c, d] = await Promise.all([start(pepper), start(pepper)]);
  nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([a, b, c, d].map((m) => m?.stop()));
  await Promise.all(dbs.map((db) => db.drop()));
});

const eventually = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe("runs on shared NATS and Redis", () => {
  it("have prefixes of their own", () => {
    expect(a.env.RUN_PREFIX).toMatch(/^t[a-z0-9]+$/);
    expect(b.env.RUN_PREFIX).toMatch(/^t[a-z0-9]+$/);
    expect(a.env.RUN_PREFIX).not.toBe(b.env.RUN_PREFIX);
    // On the test file's database: the file's streams (not another file's, not `npm start`'s
    // "dev"), own keys.
    expect(c.env.RUN_PREFIX).toBe(testRunPrefix());
    expect(d.env.RUN_PREFIX).toBe(testRunPrefix());
    expect(testRunPrefix()).toMatch(/^t[a-z0-9]+$/);
    expect(testRunPrefix()).not.toBe(a.env.RUN_PREFIX);
    expect(c.env.REDIS_PREFIX).not.toBe(d.env.REDIS_PREFIX);
  });

  it("publish and consume events only in their own streams", async () => {
    const jsm = await jetstreamManager(nc);
    const registered = "filemesh.auth.user_registered";
    const count = async (m: TestMesh) => {
      const p = m.env.RUN_PREFIX!;
      const info = await jsm.streams.info(runName(p, "AUTH"), { subjects_filter: ">" });
      return info.state.subjects?.[runSubject(p, registered)] ?? 0;
    };
    const before = await eventually("b's AUTH stream", () => count(b));
    await a.newUser();
    await a.newUser();
    // a's relay published both registrations to a's stream, and a's profile consumer took them…
    await eventually("a's events", async () => ((await count(a)) >= 2 ? true : undefined));
    const consumer = await eventually("a's profile consumer", async () => {
      const p = a.env.RUN_PREFIX!;
      const c = await jsm.consumers.info(runName(p, "AUTH"), runName(p, "user-profiles"));
      return c.delivered.stream_seq >= 2 && c.num_ack_pending === 0 ? c : undefined;
    });
    expect(consumer.num_pending).toBe(0);
    // … while b's stream and b's consumer saw none of them.
    expect(await count(b)).toBe(before);
    const p = b.env.RUN_PREFIX!;
    const theirs = await jsm.consumers.info(runName(p, "AUTH"), runName(p, "user-profiles"));
    expect(theirs.delivered.stream_seq).toBe(before);
  });

  it("count failed logins per mesh: an address throttled at one still logs in at the other", async () => {
    const u = await c.newUser();
    const from = `2001:db8:${randomBytes(2).toString("hex")}::7`;
    const login = (m: TestMesh, password: string) =>
      call(m.auth.login.bind(m.auth), { email: u.email, password }, { "x-forwarded-for": from });
    for (let i = 0; i <= FREE; i++) {
      expect((await failure(login(c, "wrong"))).reason).toBe("INVALID_CREDENTIALS");
    }
    expect((await failure(login(c, u.password))).reason).toBe("LOGIN_THROTTLED");
    // The same account (one database) and address at the other mesh: not throttled there.
    const res = await login(d, u.password);
    expect(res.accessToken).not.toBe("");
  });
});
