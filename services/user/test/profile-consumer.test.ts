// The user_registered consumer's effect, applied directly: once per event id, idempotent for
// a user that already has a profile, and malformed events are skipped instead of retried forever.
import { randomUUID } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import { consumedEventsTableSql, openDatabase, outboxTableSql } from "@filemesh/kit";
import { captureLogger, testDatabaseUrl, uniqueId } from "@filemesh/kit/testing";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { applyUserRegistered } from "../src/events/profile-consumer.js";
import { userMigrations } from "../src/store/migrations.js";

const pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
const { log } = captureLogger("test", "silent");
beforeAll(async () => {
  const db = await openDatabase({
    url: testDatabaseUrl(),
    schema: "users",
    poolSize: 1,
    migrations: userMigrations(outboxTableSql("users"), consumedEventsTableSql("users")),
    log,
  });
  await db.migrate();
  await db.close();
});
afterAll(() => pool.end());

const payload = (userId: string, email: string) =>
  eventsv1.UserRegistered.encode({
    meta: {
      eventId: randomUUID(),
      occurTime: new Date(),
      actor: `user:${userId}`,
      requestId: "",
      traceparent: "",
      resource: `user:${userId}`,
    },
    userId,
    email,
    displayName: "From Event",
  }).finish();

it("creates the profile once per event id and once per user", async () => {
  const userId = randomUUID();
  const email = `${uniqueId("ev")}@example.com`;
  const created: string[] = [];
  const onCreated = async (id: string) => {
    created.push(id);
  };
  const event = { id: randomUUID(), payload: payload(userId, email) };
  await Promise.all([1, 2, 3].map(() => applyUserRegistered(pool, event, log, onCreated)));
  await applyUserRegistered(pool, { id: randomUUID(), payload: payload(userId, email) }, log, onCreated);
  expect(created).toEqual([userId]);
  const { rows } = await pool.query("SELECT email, display_name FROM users.profiles WHERE id = $1", [userId]);
  expect(rows).toEqual([{ email, display_name: "From Event" }]);
  const { rows: applied } = await pool.query(
    "SELECT count(*)::int AS n FROM users.consumed_events WHERE consumer = 'user-profiles' AND event_id = $1",
    [event.id],
  );
  expect(applied[0].n).toBe(1);
});

it("skips undecodable events and events without a valid user id", async () => {
  const errors = captureLogger("test", "error");
  const created: string[] = [];
  const onCreated = async (id: string) => {
    created.push(id);
  };
  const email = `${uniqueId("bad")}@example.com`;
  const garbage = { id: randomUUID(), payload: Buffer.from([0xff, 0xff, 0xff]) };
  const noUser = { id: randomUUID(), payload: payload("not-a-uuid", email) };
  await applyUserRegistered(pool, garbage, errors.log, onCreated);
  await applyUserRegistered(pool, noUser, errors.log, onCreated);
  expect(created).toEqual([]);
  const { rows } = await pool.query("SELECT id FROM users.profiles WHERE email = $1", [email]);
  expect(rows).toEqual([]);
  // Skipped, not applied: neither id is recorded, and each is logged once with its reason.
  const { rows: applied } = await pool.query(
    "SELECT event_id FROM users.consumed_events WHERE consumer = 'user-profiles' AND event_id = ANY($1)",
    [[garbage.id, noUser.id]],
  );
  expect(applied).toEqual([]);
  const logged = errors.lines.map((l) => JSON.parse(l) as { eventId?: string; msg?: string });
  expect(logged.map((l) => [l.eventId, l.msg])).toEqual([
    [garbage.id, "undecodable user_registered event; skipped"],
    [noUser.id, "user_registered event without a valid user id or email; skipped"],
  ]);
});
