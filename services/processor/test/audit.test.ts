// The audit log against a real mesh (auth, permission, user, processor) on a database and a
// nats-server of its own: every event of a scripted session is stored exactly once, even when
// the whole stream is replayed by fresh consumers, and ListAuditEvents pages and filters it.
import { createHash, randomUUID } from "node:crypto";
import { processorv1, userv1 } from "@filemesh/contracts";
import { createLogger, runName } from "@filemesh/kit";
import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProcessor } from "../src/app.js";
import { loadProcessorConfig } from "../src/config.js";
import { decodeMeta } from "../src/events/decode.js";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";

let pm: ProcessorMesh;

interface Truth {
  id: string;
  subject: string;
  actor: string;
  resource: string;
}

/** Every event committed in the mesh's database (it is this test's alone). */
async function committedEvents(): Promise<Truth[]> {
  const out: Truth[] = [];
  for (const schema of ["auth", "users", "acl"]) {
    const { rows } = await pm.pool.query(`SELECT id, subject, payload FROM "${schema}".outbox`);
    for (const r of rows) {
      const meta = decodeMeta(r.payload);
      out.push({ id: r.id, subject: r.subject, actor: meta?.actor ?? "", resource: meta?.resource ?? "" });
    }
  }
  return out;
}

async function auditCount(): Promise<number> {
  const { rows } = await pm.pool.query("SELECT count(*)::int AS n FROM jobs.audit_events");
  return rows[0].n;
}

async function listAll(req: Partial<processorv1.ListAuditEventsRequest>): Promise<processorv1.AuditEvent[]> {
  const all: processorv1.AuditEvent[] = [];
  let pageToken = "";
  do {
    const page = await pm.listAudit({ ...req, pageToken });
    all.push(...page.events);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return all;
}

const sorted = (xs: string[]) => [...xs].sort();

beforeAll(async () => {
  pm = await startProcessorMesh({ services: ["auth", "permission", "user", "processor"] });
  // The admin's own registration shows that the workers run.
  await eventually("the admin's registration in the audit log", async () =>
    (await pm.listAudit({ resource: `user:${pm.admin.userId}` })).events.length > 0 ? true : undefined,
  );
});

afterAll(async () => {
  await pm?.stop();
});

describe("audit log", () => {
  let truth: Truth[] = [];
  let a: Awaited<ReturnType<ProcessorMesh["mesh"]["newUser"]>>;
  let groupId = "";

  it("stores every event of a scripted session exactly once", async () => {
    const { mesh } = pm;
    a = await mesh.newUser();
    const b = await mesh.newUser();
    await call(
      mesh.user.updateMe.bind(mesh.user),
      userv1.UpdateMeRequest.fromPartial({
        user: { displayName: "Ada L." },
        updateMask: ["display_name"],
      }),
      a.headers,
    );
    const { group } = await call(
      mesh.user.createGroup.bind(mesh.user),
      userv1.CreateGroupRequest.fromPartial({ group: { name: "auditors" } }),
      a.headers,
    );
    groupId = group!.id;
    await call(
      mesh.user.addGroupMember.bind(mesh.user),
      userv1.AddGroupMemberRequest.fromPartial({ groupId, member: `user:${b.userId}`, role: "member" }),
      a.headers,
    );
    await call(
      mesh.auth.changePassword.bind(mesh.auth),
      { currentPassword: a.password, newPassword: `${a.password}-2` },
      a.headers,
    );
    await call(
      mesh.auth.disableUser.bind(mesh.auth),
      { userId: b.userId, reason: "audit test" },
      pm.admin.headers,
    );
    await call(mesh.auth.enableUser.bind(mesh.auth), { userId: b.userId }, pm.admin.headers);

    await eventually("the outboxes published", async () => {
      const { rows } = await pm.pool.query(
        `SELECT (SELECT count(*) FROM auth.outbox WHERE published_at IS NULL)
              + (SELECT count(*) FROM users.outbox WHERE published_at IS NULL)
              + (SELECT count(*) FROM acl.outbox WHERE published_at IS NULL) AS n`,
      );
      return Number(rows[0].n) === 0;
    });
    truth = await committedEvents();
    const subjects = new Set(truth.map((t) => t.subject));
    for (const s of [
      "filemesh.auth.user_registered",
      "filemesh.auth.password_changed",
      "filemesh.auth.account_disabled",
      "filemesh.auth.account_enabled",
      "filemesh.users.profile_updated",
      "filemesh.users.group_created",
      "filemesh.users.group_member_added",
    ]) {
      expect(subjects, s).toContain(s);
    }
    await eventually("every event in the audit log", async () => (await auditCount()) >= truth.length);

    const listed = await listAll({ pageSize: 3 });
    expect(listed.length).toBe(truth.length);
    expect(sorted(listed.map((e) => e.eventId))).toEqual(sorted(truth.map((t) => t.id)));
    // Newest first.
    const times = listed.map((e) => e.occurTime!.getTime());
    expect(times).toEqual([...times].sort((x, y) => y - x));
    const byId = new Map(truth.map((t) => [t.id, t]));
    for (const e of listed) {
      expect(e).toMatchObject({ type: byId.get(e.eventId)?.subject, actor: byId.get(e.eventId)?.actor });
      expect(JSON.parse(e.payloadJson).meta.eventId).toBe(e.eventId);
    }
  });

  it("filters by actor, resource, type and time", async () => {
    const byActor = await listAll({ actor: `user:${a.userId}` });
    expect(sorted(byActor.map((e) => e.eventId))).toEqual(
      sorted(truth.filter((t) => t.actor === `user:${a.userId}`).map((t) => t.id)),
    );
    expect(byActor.length).toBeGreaterThanOrEqual(4);

    const byResource = await listAll({ resource: `group:${groupId}` });
    expect(byResource.length).toBeGreaterThan(0);
    expect(sorted(byResource.map((e) => e.eventId))).toEqual(
      sorted(truth.filter((t) => t.resource === `group:${groupId}`).map((t) => t.id)),
    );

    const registrations = truth.filter((t) => t.subject === "filemesh.auth.user_registered").length;
    expect(await listAll({ type: "filemesh.auth.user_registered" })).toHaveLength(registrations);
    expect(await listAll({ type: "filemesh.events.v1.UserRegistered" })).toHaveLength(registrations);

    const all = await listAll({});
    const middle = all[Math.floor(all.length / 2)]!.occurTime!;
    const before = await listAll({ endTime: middle });
    const after = await listAll({ startTime: middle });
    expect(before.length + after.length).toBe(all.length);
    expect(before.every((e) => e.occurTime! < middle)).toBe(true);
    expect(after.every((e) => e.occurTime! >= middle)).toBe(true);
    const combined = await listAll({ actor: `user:${a.userId}`, startTime: middle });
    expect(combined.every((e) => e.actor === `user:${a.userId}` && e.occurTime! >= middle)).toBe(true);
  });

  it("stores nothing twice when fresh consumers replay every stream", async () => {
    const before = await auditCount();
    const config = loadProcessorConfig({
      ...pm.mesh.env,
      CONSUMER_PREFIX: "replay",
      LOG_LEVEL: "silent",
    });
    const replay = await startProcessor(config, createLogger({ service: "processor", level: "silent" }));
    try {
      await replay.workers.ready;
      const nc = await connect({ servers: pm.nats.url });
      const jsm = await jetstreamManager(nc);
      try {
        await eventually("the replay consumed every stream", async () => {
          for (const stream of ["AUTH", "USERS", "ACL", "FILES"]) {
            const prefix = pm.mesh.env.RUN_PREFIX!;
            const info = await jsm.consumers.info(
              runName(prefix, stream),
              runName(prefix, `replay-audit-${stream.toLowerCase()}`),
            );
            if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
          }
          return true;
        });
      } finally {
        await nc.close();
      }
      expect(await auditCount()).toBe(before);
    } finally {
      await replay.runtime.shutdown("test end");
    }
  });

  it("refuses non-admins and malformed queries", async () => {
    const user = await pm.mesh.newUser();
    const list = pm.mesh.processor.listAuditEvents.bind(pm.mesh.processor);
    const req = (o: Partial<processorv1.ListAuditEventsRequest>) =>
      processorv1.ListAuditEventsRequest.fromPartial(o);
    expect(await failure(call(list, req({}), user.headers))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "ADMIN_REQUIRED",
    });
    expect(await failure(call(list, req({}), {}))).toMatchObject({ code: status.UNAUTHENTICATED });
    const cases: [Partial<processorv1.ListAuditEventsRequest>, string][] = [
      [{ pageSize: -1 }, "INVALID_PAGE_SIZE"],
      [{ pageToken: "not-a-token" }, "INVALID_PAGE_TOKEN"],
      [{ startTime: new Date(2000), endTime: new Date(1000) }, "INVALID_TIME_RANGE"],
      [{ actor: "x".repeat(600) }, "INVALID_FILTER"],
    ];
    for (const [r, reason] of cases) {
      expect(await failure(call(list, req(r), pm.admin.headers))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason,
      });
    }
    // A token is bound to its filter.
    const page = await pm.listAudit({ pageSize: 1 });
    expect(page.nextPageToken).not.toBe("");
    expect(
      await failure(call(list, req({ pageToken: page.nextPageToken, actor: "user:x" }), pm.admin.headers)),
    ).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PAGE_TOKEN" });
  });

  it("refuses unsigned and tampered page tokens and clamps huge page sizes", async () => {
    const list = pm.mesh.processor.listAuditEvents.bind(pm.mesh.processor);
    const req = (o: Partial<processorv1.ListAuditEventsRequest>) =>
      processorv1.ListAuditEventsRequest.fromPartial(o);
    // The unsigned form this list used to issue, for the empty filter: it named any cursor.
    const filterKey = createHash("sha256")
      .update(JSON.stringify([null, null, null, null, null]))
      .digest("base64url")
      .slice(0, 16);
    const unsigned = Buffer.from(
      JSON.stringify({ v: 1, f: filterKey, t: new Date().toISOString(), id: randomUUID() }),
    ).toString("base64url");
    const page = await pm.listAudit({ pageSize: 1 });
    const [, sig] = page.nextPageToken.split(".");
    const moved = Buffer.from(
      JSON.stringify({ c: [new Date().toISOString(), randomUUID()], e: Date.now() + 60_000 }),
    );
    for (const pageToken of [unsigned, `${moved.toString("base64url")}.${sig}`]) {
      expect(await failure(call(list, req({ pageSize: 1, pageToken }), pm.admin.headers))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "INVALID_PAGE_TOKEN",
      });
    }
    const next = await pm.listAudit({ pageSize: 1, pageToken: page.nextPageToken });
    expect(next.events[0]?.eventId).not.toBe(page.events[0]?.eventId);
    expect((await pm.listAudit({ pageSize: 2147483647 })).events.length).toBeGreaterThan(1);
  });
});
