// Issue 12: a `min_revision` the cluster never issued must not cost a Postgres read per call.
// Far beyond the known head it is refused at once (FAILED_PRECONDITION
// REVISION_FROM_THE_FUTURE); just beyond it, every waiter shares one rate-bounded head read.
// Read-your-writes across replicas still holds, also when the revision can only be learnt
// from Postgres (replica 1 tails a stream nobody writes: another key prefix).
// Postgres reads are counted by the service's own metric, per replica.

import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, startAclMesh } from "./acl-mesh.js";

let t: AclMesh;
const HUGE = "9007199254740000";

beforeAll(async () => {
  t = await startAclMesh({
    replicas: 2,
    permissionEnv: { ACL_POLL_INTERVAL: "1s", ACL_MAX_STALENESS: "5s" },
  });
  // Replica 1 learns about other replicas' writes from Postgres only (head check or poll).
  await t.restart(1, { ACL_KEY_PREFIX: `fm:acl-sec-${process.pid}` });
});
afterAll(async () => {
  await t?.stop();
});

/** `filemesh_acl_sync_db_reads_total` of replica `i`, by cause. */
type Reads = Record<"poll" | "catch_up" | "min_revision", number>;
async function reads(i: number): Promise<Reads> {
  const port = t.mesh.runtimes.permission[i]!.adminPort;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Reads = { poll: 0, catch_up: 0, min_revision: 0 };
  for (const m of text.matchAll(/^filemesh_acl_sync_db_reads_total\{[^}]*cause="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1] as keyof Reads] = Number(m[2]);
  expect(out.poll).toBeGreaterThan(0); // the metric is there (every replica polls at start)
  return out;
}

async function ownedFile() {
  const owner = await t.mesh.newUser();
  const f = t.newFile();
  const rev = await t.write([["touch", f.ref, "owner", `user:${owner.userId}`]], { i: 0 });
  expect(await t.check(owner.headers, f.ref, "read", { i: 1, minRevision: rev })).toBe(true);
  return { owner, f, rev };
}

/** Runs `n` calls, `width` at a time; returns their decoded failures. */
async function flood(n: number, width: number, one: () => Promise<unknown>) {
  const out: Awaited<ReturnType<typeof failure>>[] = [];
  for (let done = 0; done < n; done += width) {
    const batch = Array.from({ length: Math.min(width, n - done) }, () => failure(one()));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

const future = { code: status.FAILED_PRECONDITION, reason: "REVISION_FROM_THE_FUTURE" };

describe("min_revision from the future", () => {
  it("refuses 1,000 Checks with a huge min_revision without reading Postgres", async () => {
    const { owner, f } = await ownedFile();
    const before = await reads(1);
    const errs = await flood(1000, 100, () =>
      t.check(owner.headers, f.ref, "read", { i: 1, minRevision: HUGE }),
    );
    for (const e of errs) expect(e).toMatchObject(future);
    const after = await reads(1);
    expect(after.min_revision - before.min_revision).toBe(0);
  });

  it("refuses CheckBatch, ListAccessible and ListGrants with a huge min_revision the same way", async () => {
    const { owner, f } = await ownedFile();
    const c = t.clients[1]!;
    const before = await reads(1);
    const calls: (() => Promise<unknown>)[] = [
      () =>
        call(
          c.checkBatch.bind(c),
          { items: [{ subject: "", resource: f.ref, permission: "read" }], minRevision: HUGE },
          owner.headers,
        ),
      () => t.listAccessible(owner.headers, { i: 1, minRevision: HUGE }),
      () => t.listGrants(owner.headers, f.id, { i: 1, minRevision: HUGE }),
    ];
    for (const one of calls) {
      for (const e of await flood(200, 100, one)) expect(e).toMatchObject(future);
    }
    expect((await reads(1)).min_revision - before.min_revision).toBe(0);
  });

  it("refuses a revision just past the head after shared head reads, not one per call", async () => {
    const { owner, f, rev } = await ownedFile();
    const next = String(Number(rev) + 1_000); // close to the head, not issued (yet)
    const before = await reads(1);
    const errs = await flood(1000, 500, () =>
      t.check(owner.headers, f.ref, "read", { i: 1, minRevision: next }),
    );
    for (const e of errs) expect(e).toMatchObject(future);
    const used = (await reads(1)).min_revision - before.min_revision;
    // At most one head read per 50 ms per replica, however many callers wait.
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(100);
  });
});

describe("read-your-writes across replicas", () => {
  it("waits for a revision just written on the other replica, learnt from Postgres, coalesced", async () => {
    const { owner, f } = await ownedFile();
    const friend = await t.mesh.newUser();
    const before = await reads(1);
    const rev = await t.write([["touch", f.ref, "viewer", `user:${friend.userId}`]], { i: 0 });
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => t.check(friend.headers, f.ref, "read", { i: 1, minRevision: rev })),
    );
    expect(answers.every((a) => a === true)).toBe(true);
    expect((await reads(1)).min_revision - before.min_revision).toBeLessThan(10);
    // And a revocation is seen with its token on both replicas.
    const gone = await t.write([["delete", f.ref, "viewer", `user:${friend.userId}`]], { i: 0 });
    for (const i of [0, 1])
      expect(await t.check(friend.headers, f.ref, "read", { i, minRevision: gone })).toBe(false);
    expect(await t.check(owner.headers, f.ref, "read", { i: 1, minRevision: gone })).toBe(true);
  });
});
