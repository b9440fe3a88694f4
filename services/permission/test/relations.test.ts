// Internal WriteRelations (validation, each caller's scope, cycles, idempotency, events),
// WatchChanges, and input handling of Check, CheckBatch and ListAccessible (who may ask
// about whom: users about themselves, the file service about share links).
import { eventsv1, permissionv1 } from "@filemesh/contracts";
import { call, failure, testDatabaseUrl, uniqueId } from "@filemesh/kit/testing";
import { Metadata, status } from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AclMesh, type Rel, startAclMesh } from "./acl-mesh.js";

let t: AclMesh;
const db = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
beforeAll(async () => {
  t = await startAclMesh({ replicas: 2 });
});
afterAll(async () => {
  await t.stop();
  await db.end();
});

const head = async () => Number((await db.query("SELECT revision FROM acl.meta")).rows[0].revision);

describe("WriteRelations", () => {
  it.each([
    [[["touch", "file:a", "viewer", "user:"]], "updates[0].relation.subject"],
    [[["touch", "folder:a", "viewer", "user:b"]], "updates[0].relation.object"],
    [[["touch", "file:a", "member", "user:b"]], "updates[0].relation.relation"],
    [[["touch", "file:a", "parent", "user:b"]], "updates[0].relation.subject"],
    [[["touch", "file:a", "parent", "file:a"]], "updates[0].relation.subject"],
    [[["touch", "file:a", "owner", "file:b"]], "updates[0].relation.subject"],
    [
      [["touch", "file:a", "parent", "file:b", new Date(Date.now() + 1000)]],
      "updates[0].relation.expire_time",
    ],
  ] as [Rel[], string][])("refuses %j (%s)", async (rels, field) => {
    const err = await failure(t.write(rels));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_RELATION" });
    expect(err.fieldViolations.map((v) => v.field)).toContain(field);
  });

  it("refuses an empty write, an unspecified operation and more than 1,000 updates", async () => {
    expect(await failure(t.write([]))).toMatchObject({ reason: "INVALID_UPDATES" });
    const many: Rel[] = Array.from({ length: 1001 }, (_, i) => ["touch", `file:x${i}`, "viewer", "user:y"]);
    expect(await failure(t.write(many))).toMatchObject({ reason: "INVALID_UPDATES" });
    const c = t.clients[0]!;
    const unspecified = {
      updates: [{ operation: 0, relation: { object: "file:a", relation: "viewer", subject: "user:b" } }],
      requestId: "",
      forget: [],
      fencingToken: "0",
    };
    const err = await failure(call(c.writeRelations.bind(c), unspecified, t.mesh.serviceHeaders("file")));
    expect(err.fieldViolations.map((v) => v.field)).toContain("updates[0].operation");
  });

  it("keeps each caller to its own objects", async () => {
    const f = t.newFile().ref;
    expect(
      await failure(t.write([["touch", `group:${uniqueId()}`, "member", "user:u"]], { caller: "file" })),
    ).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "OUT_OF_SCOPE",
    });
    expect(await failure(t.write([["touch", f, "owner", "user:u"]], { caller: "user" }))).toMatchObject({
      reason: "OUT_OF_SCOPE",
    });
  });

  it("refuses folder and group cycles, also within one write, and writes nothing then", async () => {
    const [a, b, c] = [t.newFile().ref, t.newFile().ref, t.newFile().ref];
    await t.write([
      ["touch", b, "parent", a],
      ["touch", c, "parent", b],
    ]);
    const before = await head();
    expect(await failure(t.write([["touch", a, "parent", c]]))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "PARENT_CYCLE",
    });
    const [x, y] = [t.newFile().ref, t.newFile().ref];
    expect(
      await failure(
        t.write([
          ["touch", x, "parent", y],
          ["touch", y, "parent", x],
        ]),
      ),
    ).toMatchObject({ reason: "PARENT_CYCLE" });
    const [g1, g2, g3] = [1, 2, 3].map(() => `group:${uniqueId()}`) as [string, string, string];
    await t.write(
      [
        ["touch", g1, "member", g2],
        ["touch", g2, "admin", g3],
      ],
      { caller: "user" },
    );
    expect(await failure(t.write([["touch", g3, "member", g1]], { caller: "user" }))).toMatchObject({
      reason: "GROUP_CYCLE",
    });
    const tuples = await db.query("SELECT 1 FROM acl.tuples WHERE object = ANY($1)", [[a, x, y, g3]]);
    expect(tuples.rowCount).toBe(0);
    expect(await head()).toBeGreaterThanOrEqual(before); // others may write meanwhile; ours rolled back
  });

  it("keeps a tuple named again, twice in one write or by concurrent writes (a no-op, not a delete)", async () => {
    const user = await t.mesh.newUser();
    const [folder, file] = [t.newFile().ref, t.newFile().ref];
    const subject = `user:${user.userId}`;
    await t.write([
      ["touch", folder, "owner", subject],
      ["touch", file, "parent", folder],
    ]);
    // Found by the property test: the same parent and role again, each twice in one write...
    const again: Rel[] = [
      ["touch", file, "parent", folder],
      ["touch", folder, "owner", subject],
      ["touch", file, "parent", folder],
      ["touch", folder, "owner", subject],
    ];
    await t.write(again, { i: 1 });
    // ...and by writes racing into one group commit, on both replicas.
    const revisions = await Promise.all(Array.from({ length: 8 }, (_, k) => t.write(again, { i: k % 2 })));
    const last = String(Math.max(...revisions.map(Number)));
    const rows = await db.query(
      "SELECT object, relation, subject FROM acl.tuples WHERE object = ANY($1) ORDER BY 1",
      [[folder, file]],
    );
    expect(rows.rows).toEqual(
      [
        { object: folder, relation: "owner", subject },
        { object: file, relation: "parent", subject: folder },
      ].sort((a, b) => (a.object < b.object ? -1 : 1)),
    );
    for (const i of [0, 1]) {
      expect(await t.check(user.headers, file, "delete", { i, minRevision: last })).toBe(true);
    }
  });

  it("applies a request id once and answers retries with the same revision", async () => {
    const f = t.newFile().ref;
    const rid = uniqueId("req");
    const rels: Rel[] = [["touch", f, "owner", "user:someone"]];
    const revs = await Promise.all([0, 1, 0, 1].map((i) => t.write(rels, { i, requestId: rid })));
    expect(new Set(revs).size).toBe(1);
    const changes = await db.query("SELECT revision FROM acl.changes WHERE request_key = $1", [
      `service:file/${rid}`,
    ]);
    expect(changes.rows).toEqual([{ revision: revs[0] }]);
    expect(await failure(t.write([["touch", f, "owner", "user:other"]], { requestId: rid }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "REQUEST_ID_REUSED",
    });
    // Another caller's ids are its own.
    const g = `group:${uniqueId()}`;
    expect(await t.write([["touch", g, "member", "user:x"]], { caller: "user", requestId: rid })).not.toBe(
      revs[0],
    );
  });

  it("refuses a write fenced with a token older than one applied to its objects, and writes nothing", async () => {
    const g = `group:${uniqueId()}`;
    const [a, b] = [`user:${uniqueId()}`, `user:${uniqueId()}`];
    const asUser = { caller: "user" };
    const tuples = async () =>
      (await db.query("SELECT subject FROM acl.tuples WHERE object = $1 ORDER BY 1", [g])).rows.map(
        (r) => r.subject,
      );
    await t.write([["touch", g, "member", a]], { ...asUser, fencingToken: "10" });
    const before = await head();
    // Older: refused on either replica, also when it names another object with it.
    for (const i of [0, 1]) {
      const err = await failure(
        t.write(
          [
            ["delete", g, "member", a],
            ["touch", `group:${uniqueId()}`, "member", b],
          ],
          { ...asUser, i, fencingToken: "9" },
        ),
      );
      expect(err).toMatchObject({ code: status.ABORTED, reason: "STALE_WRITE" });
    }
    expect(await head()).toBe(before);
    expect(await tuples()).toEqual([a]);
    // The same token passes (one change split over several writes); so does an unfenced write.
    await t.write([["touch", g, "member", b]], { ...asUser, fencingToken: "10" });
    expect(await tuples()).toEqual([a, b].sort());
    // A forget fences the objects it deletes tuples of: a stale write to them is refused after.
    const nested = `group:${uniqueId()}`;
    await t.write([["touch", g, "member", nested]], { ...asUser, fencingToken: "11" });
    await t.write([], { ...asUser, forget: [nested], fencingToken: "20" });
    const err = await failure(t.write([["touch", g, "member", nested]], { ...asUser, fencingToken: "12" }));
    expect(err.reason).toBe("STALE_WRITE");
    expect(await tuples()).toEqual([a, b].sort());
    expect(
      (await failure(t.write([["touch", g, "member", a]], { ...asUser, fencingToken: "-1" }))).code,
    ).toBe(status.INVALID_ARGUMENT);
  });

  it("orders fenced writes racing through one group commit by their tokens", async () => {
    // Forty writes of one group's membership sent at once, in shuffled token order, over both
    // replicas: whatever the arrival order, the state left is the one of the greatest token, and
    // each write either applied or was refused as stale.
    const g = `group:${uniqueId()}`;
    const member = `user:${uniqueId()}`;
    const tokens = Array.from({ length: 40 }, (_, i) => 1000 + i).sort(() => Math.random() - 0.5);
    const outcomes = await Promise.all(
      tokens.map((tok, k) =>
        t
          .write([[tok % 2 ? "touch" : "delete", g, "member", member]], {
            caller: "user",
            i: k % 2,
            fencingToken: String(tok),
          })
          .then(
            () => "applied",
            async (err: unknown) => (await failure(Promise.reject(err))).reason,
          ),
      ),
    );
    expect(outcomes[tokens.indexOf(1039)]).toBe("applied");
    expect(new Set(outcomes).size).toBeLessThanOrEqual(2);
    for (const o of outcomes) expect(["applied", "STALE_WRITE"]).toContain(o);
    // 1039 is odd: a touch.
    const rows = await db.query("SELECT subject FROM acl.tuples WHERE object = $1", [g]);
    expect(rows.rows.map((r) => r.subject)).toEqual([member]);
    const fence = await db.query("SELECT token FROM acl.fences WHERE object = $1", [g]);
    expect(fence.rows[0].token).toBe("1039");
  });

  it("writes grant_created / grant_deleted events with the grant id and revision", async () => {
    const f = t.newFile().ref;
    const rev1 = await t.write([["touch", f, "editor", "user:evt"]]);
    const rev2 = await t.write([["touch", f, "viewer", "user:evt"]]); // replaces the editor grant
    const { rows } = await db.query(
      "SELECT subject, payload FROM acl.outbox WHERE subject LIKE 'filemesh.acl.grant_%' ORDER BY seq DESC LIMIT 200",
    );
    const decoded = rows.map((r) =>
      r.subject === "filemesh.acl.grant_created"
        ? { kind: "created", ...eventsv1.GrantCreated.decode(r.payload) }
        : { kind: "deleted", ...eventsv1.GrantDeleted.decode(r.payload) },
    );
    const mine = decoded.filter((e) => e.resource === f).reverse();
    expect(mine.map((e) => [e.kind, "role" in e ? e.role : "", e.revision])).toEqual([
      ["created", "editor", rev1],
      ["deleted", "", rev2],
      ["created", "viewer", rev2],
    ]);
    expect(mine[0]!.grantId).toBe(mine[1]!.grantId);
    expect(mine[0]!.meta?.actor).toBe("service:file");
  });
});

describe("WatchChanges", () => {
  it("streams every change after a revision, in order, then new ones as they commit", async () => {
    const f = t.newFile().ref;
    const first = await t.write([["touch", f, "viewer", "user:w1"]]);
    const c = t.clients[1]!;
    const md = new Metadata();
    for (const [k, v] of Object.entries(t.mesh.serviceHeaders("processor"))) md.set(k, v);
    const stream = c.watchChanges({ afterRevision: String(Number(first) - 1) }, md);
    const seen: permissionv1.Change[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (m: permissionv1.WatchChangesResponse) => {
        seen.push(m.change!);
        if (seen.some((ch) => ch.updates.some((u) => u.relation?.subject === "user:w2"))) resolve();
      });
      stream.on("error", (err: Error & { code?: number }) =>
        err.code === status.CANCELLED ? resolve() : reject(err),
      );
    });
    await t.write([["touch", f, "viewer", "user:w2"]], { i: 0 });
    await done;
    stream.cancel();
    const revisions = seen.map((ch) => Number(ch.revision));
    expect(revisions[0]).toBe(Number(first));
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(revisions.every((r, i) => i === 0 || r === revisions[i - 1]! + 1)).toBe(true);
  });
});

describe("Check, CheckBatch, ListAccessible input", () => {
  it.each([
    [{ resource: "file:", permission: "read" }, "INVALID_RESOURCE"],
    [{ resource: "group:x", permission: "read" }, "INVALID_RESOURCE"],
    [{ resource: "file:x", permission: "admin" }, "INVALID_PERMISSION"],
    [{ resource: "file:x", permission: "read", subject: "user:a b" }, "INVALID_SUBJECT"],
    [{ resource: "file:x", permission: "read", minRevision: "-1" }, "INVALID_REVISION"],
  ])("refuses %j", async (req, reason) => {
    const me = await t.mesh.newUser();
    const c = t.clients[0]!;
    const err = await failure(call(c.check.bind(c), permissionv1.CheckRequest.fromPartial(req), me.headers));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
  });

  it("lets a user ask only about themselves, and denies unknown files and subjects", async () => {
    const me = await t.mesh.newUser();
    const other = await t.mesh.newUser();
    const f = t.newFile().ref;
    const rev = await t.write([["touch", f, "owner", `user:${other.userId}`]]);
    expect(await failure(t.check(me.headers, f, "read", { subject: `user:${other.userId}` }))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "SUBJECT_NOT_CALLER",
    });
    expect(await t.check(me.headers, f, "read", { subject: `user:${me.userId}`, minRevision: rev })).toBe(
      false,
    );
    expect(await t.check(me.headers, t.newFile().ref, "read")).toBe(false);
    expect(await t.check(other.headers, f, "delete", { minRevision: rev })).toBe(true);
  });

  it("lets the file service ask about share links as itself, and nothing else", async () => {
    const me = await t.mesh.newUser();
    const [folder, f] = [t.newFile().ref, t.newFile().ref];
    const [link, other] = [`link:${uniqueId("l")}`, `link:${uniqueId("l")}`];
    const rev = await t.write([
      ["touch", f, "parent", folder],
      ["touch", folder, "viewer", link],
      ["touch", f, "owner", `user:${me.userId}`],
    ]);
    const file = t.mesh.serviceHeaders("file");
    // Through the parent chain, on the other replica, with the write's revision.
    expect(await t.check(file, f, "read", { subject: link, minRevision: rev, i: 1 })).toBe(true);
    expect(await t.check(file, f, "write", { subject: link, minRevision: rev })).toBe(false);
    expect(await t.check(file, f, "read", { subject: other, minRevision: rev })).toBe(false);
    const c = t.clients[1]!;
    const items = [f, folder, t.newFile().ref].map((resource) => ({
      subject: link,
      resource,
      permission: "read",
    }));
    expect((await call(c.checkBatch.bind(c), { items, minRevision: rev }, file)).allowed).toEqual([
      true,
      true,
      false,
    ]);
    const revoked = await t.write([["delete", folder, "viewer", link]]);
    expect(await t.check(file, f, "read", { subject: link, minRevision: revoked, i: 1 })).toBe(false);

    // The file service asks about users with their token, never as itself.
    for (const subject of [`user:${me.userId}`, `group:${uniqueId("g")}`]) {
      expect(await failure(t.check(file, f, "read", { subject }))).toMatchObject({
        code: status.PERMISSION_DENIED,
        reason: "SUBJECT_NOT_ALLOWED",
      });
    }
    const mixed = [items[0]!, { subject: `user:${me.userId}`, resource: f, permission: "read" }];
    expect(await failure(call(c.checkBatch.bind(c), { items: mixed, minRevision: "" }, file))).toMatchObject({
      reason: "SUBJECT_NOT_ALLOWED",
    });
    expect(await failure(t.check(file, f, "read"))).toMatchObject({ reason: "SUBJECT_REQUIRED" });
    // Other services, a forged identity, and methods without service callers: no token, no entry.
    for (const h of [
      t.mesh.serviceHeaders("user"),
      t.mesh.serviceHeaders("processor"),
      { "x-filemesh-service": "file", "x-filemesh-internal-token": "not-the-token-at-all" },
    ]) {
      expect(await failure(t.check(h, f, "read", { subject: link }))).toMatchObject({
        code: status.UNAUTHENTICATED,
        reason: "MISSING_TOKEN",
      });
    }
    expect(await failure(t.listAccessible(file, { subject: link }))).toMatchObject({
      code: status.UNAUTHENTICATED,
      reason: "MISSING_TOKEN",
    });
    // A user may not ask about a link, also not with the file service's identity beside the token.
    for (const h of [me.headers, { ...file, ...me.headers }]) {
      expect(await failure(t.check(h, f, "read", { subject: link }))).toMatchObject({
        code: status.PERMISSION_DENIED,
        reason: "SUBJECT_NOT_CALLER",
      });
      expect(
        await failure(call(c.checkBatch.bind(c), { items: [items[0]!], minRevision: "" }, h)),
      ).toMatchObject({ reason: "SUBJECT_NOT_CALLER" });
    }
    expect(await t.check({ ...file, ...me.headers }, f, "delete", { minRevision: rev })).toBe(true);
  });

  it("answers a batch of up to 1,000 in order and refuses more", async () => {
    const me = await t.mesh.newUser();
    const f = t.newFile().ref;
    const rev = await t.write([["touch", f, "editor", `user:${me.userId}`]]);
    const c = t.clients[1]!;
    const items = ["read", "write", "share", "delete"].map((permission) => ({
      subject: "",
      resource: f,
      permission,
    }));
    const res = await call(c.checkBatch.bind(c), { items, minRevision: rev }, me.headers);
    expect(res.allowed).toEqual([true, true, true, false]);
    const big = Array.from({ length: 1001 }, () => items[0]!);
    expect(
      await failure(call(c.checkBatch.bind(c), { items: big, minRevision: "" }, me.headers)),
    ).toMatchObject({
      reason: "TOO_MANY_ITEMS",
    });
  });

  it("answers CheckBatch bytes that are not a CheckBatchRequest INVALID_ARGUMENT, and keeps serving", async () => {
    const me = await t.mesh.newUser();
    const c = t.clients[0]!;
    const md = new Metadata();
    for (const [k, v] of Object.entries(me.headers)) md.set(k, v);
    const send = (bytes: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        c.makeUnaryRequest(
          "/filemesh.permission.v1.PermissionService/CheckBatch",
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          md,
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      );
    const good = Buffer.from(
      permissionv1.CheckBatchRequest.encode({
        items: [{ subject: "", resource: "file:x", permission: "read" }],
        minRevision: "0",
      }).finish(),
    );
    for (const bytes of [
      good.subarray(0, good.length - 2), // cut inside the item
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // a length past the end
      Buffer.from([0x08, 0x01]), // items as a varint
      Buffer.from([0x12, 0x01, 0x31]), // min_revision as bytes
      Buffer.from([0x0b, 0x0c]), // a group
      Buffer.from([0x10, ...Array(10).fill(0xff), 0x01]), // an 11-byte varint
    ]) {
      expect(await failure(send(bytes))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "MALFORMED_REQUEST",
      });
    }
    // Unknown fields are skipped; the service still answers.
    const res = await send(Buffer.concat([Buffer.from([0x78, 0x05, 0x22, 0x00]), good]));
    expect(permissionv1.CheckBatchResponse.decode(res).allowed).toEqual([false]);
  });

  it("pages ListAccessible with tokens bound to the request", async () => {
    const me = await t.mesh.newUser();
    const files = Array.from({ length: 5 }, () => t.newFile().ref).sort();
    const rev = await t.write(files.map((f) => ["touch", f, "viewer", `user:${me.userId}`] as Rel));
    const first = await t.listAccessible(me.headers, { pageSize: 2, minRevision: rev });
    expect(first.resources.map((r) => r.resource)).toEqual(files.slice(0, 2));
    expect(
      await failure(
        t.listAccessible(me.headers, { pageSize: 2, pageToken: first.nextPageToken, permission: "write" }),
      ),
    ).toMatchObject({
      reason: "INVALID_PAGE_TOKEN",
    });
    const rest = await t.listAccessible(me.headers, {
      pageSize: 10,
      pageToken: first.nextPageToken,
      i: 1,
      minRevision: rev,
    });
    expect(rest.resources.map((r) => r.resource)).toEqual(files.slice(2));
    expect(rest.nextPageToken).toBe("");
  });

  it("refuses unsigned, tampered and transplanted page tokens on ListAccessible and ListGrants", async () => {
    const [me, other] = [await t.mesh.newUser(), await t.mesh.newUser()];
    const files = Array.from({ length: 3 }, () => t.newFile().ref).sort();
    const f = t.newFile();
    const rev = await t.write([
      ...files.map((r) => ["touch", r, "viewer", `user:${me.userId}`] as Rel),
      ["touch", f.ref, "owner", `user:${me.userId}`],
      ["touch", f.ref, "editor", `user:${other.userId}`],
      ["touch", f.ref, "viewer", `user:${uniqueId("u")}`],
    ]);
    const badToken = { reason: "INVALID_PAGE_TOKEN", code: status.INVALID_ARGUMENT };
    // The unsigned form this service used to accept, naming the caller's own question.
    const unsigned = Buffer.from(JSON.stringify({ s: `user:${me.userId}|read`, a: files[0] })).toString(
      "base64url",
    );
    expect(
      await failure(t.listAccessible(me.headers, { pageSize: 1, pageToken: unsigned, minRevision: rev })),
    ).toMatchObject(badToken);
    const first = await t.listAccessible(me.headers, { pageSize: 1, minRevision: rev });
    const [body, sig] = first.nextPageToken.split(".");
    const moved = Buffer.from(JSON.stringify({ c: [files[1]], e: Date.now() + 60_000 })).toString(
      "base64url",
    );
    expect(body && sig).toBeTruthy();
    expect(
      await failure(t.listAccessible(me.headers, { pageSize: 1, pageToken: `${moved}.${sig}` })),
    ).toMatchObject(badToken);
    // A grants token of one sharer of the file is refused to another sharer of the same file.
    const grants = await t.listGrants(me.headers, f.id, { pageSize: 1, minRevision: rev });
    expect(grants.nextPageToken).toBeTruthy();
    expect(
      await failure(t.listGrants(other.headers, f.id, { pageSize: 1, pageToken: grants.nextPageToken })),
    ).toMatchObject(badToken);
    const mine = await t.listGrants(me.headers, f.id, {
      pageSize: 10,
      pageToken: grants.nextPageToken,
      i: 1,
    });
    expect(mine.grants.length).toBe(2);
  });
});
