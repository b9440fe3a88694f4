// Raw uploads' quota reservations (domain/reservation.ts, store/reservations.ts) on the real
// Postgres and file service: the reservation is a row under a lease; a process that dies
// mid-body (here: stops renewing without releasing) gets its bytes given back by the janitor's
// ExpireUploads once the lease lapses — and not before; the commit, a release and the janitor
// end a reservation exactly once (no bytes returned twice).
import { filev1 } from "@filemesh/contracts";
import { describe, expect, it } from "vitest";
import { growingReservation } from "../src/domain/reservation.js";
import { releaseLapsed } from "../src/store/reservations.js";
import { rpc, useFileMesh } from "./start-file.js";

const LEASE_MS = 1500;
const t = useFileMesh({ ownDatabase: true, env: { RAW_RESERVATION_LEASE: `${LEASE_MS}ms` } });
const MiB = 1024n * 1024n;
const QUOTA = 10 * 1024 * 1024 * 1024;

const reservedOf = async (userId: string) =>
  BigInt(
    (await t.db.query("SELECT reserved_bytes FROM files.usage WHERE user_id = $1", [userId])).rows[0]
      ?.reserved_bytes ?? 0,
  );
const expire = () =>
  rpc(
    t.f,
    t.f.expireUploads,
    filev1.ExpireUploadsRequest.fromPartial({}),
    t.mesh.serviceHeaders("processor"),
  );

describe("raw upload reservations", () => {
  it("a reservation whose process died is given back by the janitor once its lease lapses", async () => {
    const u = await t.mesh.newUser();
    const r = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 60_000 });
    await r.cover(3n * MiB + 5n);
    const held = r.reserved();
    expect(held).toBe(3n * MiB + 5n);
    expect(await reservedOf(u.userId)).toBe(held);
    // The process dies: nothing renews the lease, nothing releases it.
    r.consumed();
    await expire();
    expect(await reservedOf(u.userId)).toBe(held); // the lease still holds
    await new Promise((res) => setTimeout(res, LEASE_MS + 300));
    await expire();
    expect(await reservedOf(u.userId)).toBe(0n);
    // Once: another janitor pass (or a late release) gives nothing back twice.
    await expire();
    await r.release();
    expect(await reservedOf(u.userId)).toBe(0n);
  });

  it("a live upload keeps its lease by renewing it", async () => {
    const u = await t.mesh.newUser();
    const r = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 200 });
    await r.cover(MiB + 10n);
    await new Promise((res) => setTimeout(res, LEASE_MS + 500));
    await expire();
    expect(await reservedOf(u.userId)).toBe(MiB + 10n);
    await r.release();
    expect(await reservedOf(u.userId)).toBe(0n);
    expect((await t.db.query("SELECT 1 FROM files.reservations WHERE id = $1", [r.id])).rowCount).toBe(0);
  });

  it("a release racing the janitor returns the bytes once", async () => {
    const u = await t.mesh.newUser();
    const other = await t.mesh.newUser();
    // The other user's reservation stays (renewed), so a double release would show as a deficit
    // only on u's row: reserved_bytes is clamped at 0, hence measure with a second live one.
    const live = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 100 });
    await live.cover(MiB + 1n);
    const dead = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 60_000 });
    await dead.cover(2n * MiB);
    dead.consumed();
    await new Promise((res) => setTimeout(res, LEASE_MS + 300));
    await Promise.all([dead.release(), expire(), dead.release()]);
    expect(await reservedOf(u.userId)).toBe(MiB + 1n); // only the live one remains
    await live.release();
    expect(await reservedOf(u.userId)).toBe(0n);
    expect(await reservedOf(other.userId)).toBe(0n);
  });

  it("a body within its first MiB reserves nothing; past it, the reservation covers all of it", async () => {
    const u = await t.mesh.newUser();
    const rows = async () =>
      (await t.db.query("SELECT bytes FROM files.reservations WHERE owner_id = $1", [u.userId])).rows;
    const r = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 60_000 });
    await r.cover(64n * 1024n);
    await r.cover(MiB);
    expect([r.held(), r.reserved(), await reservedOf(u.userId), await rows()]).toEqual([false, 0n, 0n, []]);
    await r.cover(MiB + 1n);
    expect([r.held(), r.reserved(), await reservedOf(u.userId)]).toEqual([true, MiB + 1n, MiB + 1n]);
    expect(await rows()).toEqual([{ bytes: String(MiB + 1n) }]);
    await r.release();
    expect([await reservedOf(u.userId), await rows()]).toEqual([0n, []]);
  });

  it("grows by a quarter of what it holds, never past the quota: exactly up to it when near", async () => {
    const u = await t.mesh.newUser();
    const r = growingReservation(t.db, u.userId, { defaultQuota: QUOTA, renewMs: 60_000 });
    let steps = 0;
    let last = 0n;
    for (let total = 64n * 1024n; total <= 64n * MiB; total += 64n * 1024n) {
      await r.cover(total);
      if (r.reserved() !== last) steps++;
      last = r.reserved();
      // Nothing within the first MiB; past it, enough and at most a quarter (or one MiB) more.
      expect(total <= MiB ? last === 0n : last >= total && last <= total + total / 4n + MiB).toBe(true);
    }
    expect(steps).toBeLessThanOrEqual(20); // one statement per MiB would be 64
    expect(await reservedOf(u.userId)).toBe(last);
    await r.release();
    // A quota of 10 MiB: the last steps shrink to what is needed, so all of it can be used.
    const v = await t.mesh.newUser();
    await t.db.query("INSERT INTO files.usage (user_id, quota_bytes) VALUES ($1, $2)", [
      v.userId,
      String(10n * MiB),
    ]);
    const q = growingReservation(t.db, v.userId, { defaultQuota: QUOTA, renewMs: 60_000 });
    for (let total = 64n * 1024n; total <= 10n * MiB; total += 64n * 1024n) await q.cover(total);
    expect([q.reserved(), await reservedOf(v.userId)]).toEqual([10n * MiB, 10n * MiB]);
    await expect(q.cover(10n * MiB + 1n)).rejects.toMatchObject({ reason: "QUOTA_EXCEEDED" });
    await q.release();
  });

  it("a committed raw upload leaves no reservation row and no reserved bytes", async () => {
    const u = await t.mesh.newUser();
    await t.upload(u.headers, "a.bin", Buffer.alloc(3 * 1024 * 1024, 1));
    expect(await reservedOf(u.userId)).toBe(0n);
    const { rows } = await t.db.query(
      "SELECT count(*)::int AS n FROM files.reservations WHERE owner_id = $1",
      [u.userId],
    );
    expect(rows[0].n).toBe(0);
    expect(await releaseLapsed(t.db, 0, 1000)).toBe(0);
  });
});
