// NATS users (issue 12: "any pod can read every file event or publish forged ones"). The user
// table in k8s/values/nats.yaml is the one source: checked here against the services' streams
// and consumers, rendered into the chart's per-service Secrets, and run for real — a private
// nats-server with exactly that authorization (passwords filled in), on which each service's
// own code does its job as its user (the relays publish, the processor's workers and the user
// service's profile consumer receive), and nothing else is allowed.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventsv1 } from "@filemesh/contracts";
import {
  appendEvents,
  type ConsumedEvent,
  connectNats,
  createPool,
  ensureStreams,
  FILEMESH_STREAMS,
  inboxPrefixOf,
  makeEvent,
  newEventMeta,
  outboxTableSql,
  Registry,
  relayStreams,
  runConsumer,
  startBackgroundRelay,
} from "@filemesh/kit";
import { captureLogger, freePort, NATS_SERVER, testDatabaseUrl } from "@filemesh/kit/testing";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditWorkers } from "../../services/processor/src/audit/audit-worker.js";
import { loadProcessorConfig } from "../../services/processor/src/config.js";
import { startBackgroundWorkers } from "../../services/processor/src/events/background.js";
import { PROCESSOR_STREAMS } from "../../services/processor/src/events/topology.js";
import type { Worker } from "../../services/processor/src/events/workers.js";
import { processorMetrics } from "../../services/processor/src/metrics.js";
import { UPLOADED_SUBJECT } from "../../services/processor/src/pipeline/upload-worker.js";
import { PROFILE_CONSUMER } from "../../services/user/src/events/profile-consumer.js";
import { find, ROOT, readYaml, renderChart, valuesFile } from "./lib/render.js";

type Perms = { publish: { allow: string[] }; subscribe: { allow: string[] } };
type NatsUser = { user: string; password: string; permissions: Perms };
const SERVICES = ["auth", "user", "permission", "file", "processor"] as const;

const values = readYaml(join(ROOT, "k8s", "values", "nats.yaml")) as {
  config: { merge: { authorization: { users: NatsUser[] } } };
  container: { env: Record<string, { valueFrom: { secretKeyRef: { name: string; key: string } } }> };
};
const users = values.config.merge.authorization.users;

describe("the NATS user table (k8s/values/nats.yaml)", () => {
  it("has one user per service, its password from the Secret nats-users, and no anonymous access", () => {
    expect(users.map((u) => u.user).sort()).toEqual([...SERVICES].sort());
    for (const u of users) {
      const env = `${u.user.toUpperCase()}_NATS_PASSWORD`;
      expect(u.password).toBe(`<< $${env} >>`);
      expect(values.container.env[env]?.valueFrom.secretKeyRef).toEqual({ name: "nats-users", key: u.user });
    }
    expect(values.config.merge.authorization).not.toHaveProperty("no_auth_user");
  });

  it("lets each service subscribe only to its own inbox and publish only its own events", () => {
    const domainSubjects = FILEMESH_STREAMS.flatMap((s) => s.subjects);
    for (const u of users) {
      expect(u.permissions.subscribe.allow).toEqual([`${inboxPrefixOf(u.user)}.>`]);
      const pub = u.permissions.publish.allow;
      // Never the whole JetStream API or every subject.
      for (const p of pub) expect(p).not.toMatch(/^(>|\$JS\.>|\$JS\.API\.>|\$JS\.API\.\*\..*|filemesh\.>)$/);
      const own = u.user === "processor" ? [] : relayStreams(u.user).flatMap((s) => s.subjects);
      expect(pub.filter((p) => domainSubjects.includes(p))).toEqual(own);
    }
  });

  it("gives each service its user in the rendered chart (NATS_URL in <service>-env)", () => {
    const passwords = Object.fromEntries(SERVICES.map((s) => [s, `pw-${s}-${"x".repeat(16)}`]));
    const objects = renderChart([valuesFile({ secrets: { create: true, natsPasswords: passwords } })]);
    for (const s of SERVICES) {
      const url = new URL(find(objects, "Secret", `${s}-env`).stringData.NATS_URL);
      expect([url.username, url.password]).toEqual([s, passwords[s]]);
      // The non-secret ConfigMap never carries a credential.
      expect(new URL(find(objects, "ConfigMap", `${s}-config`).data.NATS_URL).username).toBe("");
    }
  });
});

describe("a nats-server with that table", () => {
  let proc: ChildProcess;
  let dir: string;
  let port: number;
  const passwords = Object.fromEntries(SERVICES.map((s) => [s, randomBytes(18).toString("hex")]));
  const urlOf = (user?: string, password = user ? passwords[user] : undefined) =>
    `nats://${user ? `${user}:${password}@` : ""}127.0.0.1:${port}`;
  const { log, lines } = captureLogger("nats-auth", "debug");
  let pool: pg.Pool;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "filemesh-nats-auth-"));
    const authorization = {
      users: users.map((u) => ({ user: u.user, password: passwords[u.user], permissions: u.permissions })),
    };
    // The server reads JSON as its config format.
    const conf = { listen: `127.0.0.1:${port}`, jetstream: { store_dir: dir }, authorization };
    writeFileSync(join(dir, "nats.conf"), JSON.stringify(conf, null, 2));
    proc = spawn(NATS_SERVER, ["-c", join(dir, "nats.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      proc.stderr?.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes("Server is ready")) resolve();
      });
      proc.once("exit", (code) => reject(new Error(`nats-server exited (${code}): ${out.slice(-800)}`)));
    });
    pool = createPool(testDatabaseUrl(), 16, log, "nats-auth"); // each relay holds a LISTEN client
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await pool?.end();
    proc?.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
    // No password reached a log line.
    for (const pw of Object.values(passwords)) expect(lines.join("\n")).not.toContain(pw);
  });

  const connect = async (user?: string, password?: string) => {
    const h = await connectNats({ url: urlOf(user, password), name: `test-${user}`, log, timeoutMs: 2000 });
    cleanups.push(() => h.close());
    return h;
  };

  /** The service's real relay on an outbox of its own; resolves once it runs. */
  async function relayAs(service: string) {
    const schema = `t_nats_${service}_${randomBytes(4).toString("hex")}`;
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(outboxTableSql(schema));
    cleanups.push(() => pool.query(`DROP SCHEMA "${schema}" CASCADE`));
    const relay = startBackgroundRelay({
      natsUrl: urlOf(service),
      name: service,
      pool,
      schema,
      log,
      registry: new Registry(),
    });
    cleanups.push(() => relay.stop());
    await relay.ready;
    const publish = async (subject: string, id = newEventMeta({ actor: "t", resource: "r" })) => {
      const ev = makeEvent(subject, "filemesh.events.v1.UserRegistered", eventsv1.UserRegistered, {
        meta: id,
        userId: "u1",
        email: "u1@example.test",
        displayName: "U",
      });
      await appendEvents(pool, schema, [ev]);
      return ev.id;
    };
    return { publish };
  }

  it("refuses anonymous connections and wrong passwords", async () => {
    await expect(connect()).rejects.toThrow(/authoriz/i);
    await expect(connect("file", "not-the-password")).rejects.toThrow(/authoriz/i);
  });

  it("lets the file service's relay publish an upload that the processor's workers receive", async () => {
    const seen: { worker: string; event: ConsumedEvent }[] = [];
    const prefix = loadProcessorConfig({}).consumerPrefix;
    const record = (worker: string) => async (event: ConsumedEvent) => void seen.push({ worker, event });
    const workers: Worker[] = [
      ...auditWorkers({ prefix, streams: FILEMESH_STREAMS, pool, log }).map((w) => ({
        ...w,
        handle: record(w.name),
      })),
      {
        name: `${prefix}-uploads`,
        stream: "FILES",
        filterSubject: UPLOADED_SUBJECT,
        handle: record("uploads"),
      },
    ];
    const bg = startBackgroundWorkers({
      natsUrl: urlOf("processor"),
      name: "processor",
      streams: PROCESSOR_STREAMS,
      workers,
      settings: { maxDeliver: 3, backoffMs: [100], ackWaitMs: 5000 },
      metrics: processorMetrics(new Registry()),
      log,
    });
    cleanups.push(() => bg.stop());
    await bg.ready;

    const file = await relayAs("file");
    const id = await file.publish(UPLOADED_SUBJECT);
    await until(() => seen.some((s) => s.worker === "uploads" && s.event.id === id));
    await until(() => seen.some((s) => s.worker === `${prefix}-audit-files` && s.event.id === id));

    // The processor's dead letters: put, list, redrive (DEADLETTER and REDRIVE are its own).
    const dead = bg.deadLetters()!;
    const event = seen.find((s) => s.event.id === id)!.event;
    await dead.put(`${prefix}-uploads`, "FILES", event, "test");
    expect((await dead.list()).map((d) => d.eventId)).toContain(id);
    expect(await dead.redrive([id])).toBe(1);
  });

  it("lets auth, permission and user publish their events, and user's profile consumer read registrations", async () => {
    const got: string[] = [];
    // The processor creates every stream (the user service may create only USERS).
    await ensureStreams((await connect("processor")).jsm, PROCESSOR_STREAMS);
    const user = await connect("user");
    await ensureStreams(
      user.jsm,
      FILEMESH_STREAMS.filter((s) => s.name === "USERS"),
    );
    const auth = await relayAs("auth");
    const consumer = await runConsumer({
      js: user.js,
      jsm: user.jsm,
      stream: "AUTH",
      durable: PROFILE_CONSUMER,
      filterSubject: "filemesh.auth.user_registered",
      log,
      handle: async (e) => void got.push(e.id),
    });
    cleanups.push(() => consumer.stop());
    const id = await auth.publish("filemesh.auth.user_registered");
    await until(() => got.includes(id));
    // The profile consumer's start-up check of every domain stream works as user.
    await ensureStreams(user.jsm, FILEMESH_STREAMS);
    for (const s of ["permission", "user"] as const) {
      const r = await relayAs(s);
      const subject = s === "user" ? "filemesh.users.user_updated" : "filemesh.acl.grant_created";
      await r.publish(subject);
    }
    const check = await connect("processor");
    await until(async () => (await check.jsm.streams.info("ACL")).state.messages > 0);
    await until(async () => (await check.jsm.streams.info("USERS")).state.messages > 0);
  });

  it("refuses the file user another service's subjects, streams, consumers and inbox", async () => {
    const file = await connect("file");
    await ensureStreams(file.jsm, relayStreams("file"));
    // Forging an auth event.
    await expect(file.js.publish("filemesh.auth.user_registered", "x", { timeout: 1500 })).rejects.toThrow(
      /permissions violation/i,
    );
    // Reading auth events directly, through a consumer of its own, or from the processor's inbox.
    for (const subject of ["filemesh.auth.>", "filemesh.>", `${inboxPrefixOf("processor")}.>`, "_INBOX.>"]) {
      const sub = file.nc.subscribe(subject);
      const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r("open"), 1500))]);
      expect(String(closed)).toMatch(/permission/i);
    }
    await expect(
      file.jsm.consumers.add("AUTH", { durable_name: "steal", filter_subject: "filemesh.auth.>" }),
    ).rejects.toThrow(/permissions violation/i);
    // Even reading another service's stream configuration.
    await expect(file.jsm.streams.info("AUTH")).rejects.toThrow(/permissions violation/i);
  });
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
