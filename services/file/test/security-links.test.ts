// Attacks on share links (issue 12): a download limit must hold whatever the range, under
// parallel calls and on every replica; password guesses are throttled per link and client
// address, and per link as a whole, without letting anyone lock the holder out; a throttled
// guess is refused before it is hashed or counted. The password may come in a header.
import { filev1 } from "@filemesh/contracts";
import { failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { collect, metadataOf, rpc, useFileMesh } from "./start-file.js";

const t = useFileMesh({
  replicas: 2,
  env: {
    TRUST_FORWARDED_FOR: "true",
    LINK_PASSWORD_FREE_ATTEMPTS: "2",
    LINK_PASSWORD_BACKOFF_BASE: "30s",
    LINK_PASSWORD_LINK_BACKOFF_MAX: "2s",
  },
});

type H = Record<string, string>;
/** GetSharedLink from a client address (`from`), the password in the field or the header. */
const shared = (token: string, o: { password?: string; header?: string; from?: string } = {}) =>
  rpc(t.f, t.f.getSharedLink, { token, password: o.password ?? "" }, headersOf(o));
const headersOf = (o: { header?: string; from?: string }): H => ({
  ...(o.header !== undefined ? { "x-link-password": o.header } : {}),
  "x-forwarded-for": o.from ?? "192.0.2.1",
});
const content = async (token: string, o: { offset?: string; length?: string; password?: string } = {}) => {
  const req = filev1.GetSharedLinkContentRequest.fromPartial({ token, ...o });
  const msgs = await collect(t.f.getSharedLinkContent(req, metadataOf(headersOf({}))));
  return Buffer.concat(msgs.map((m) => m.data)).toString();
};
const downloads = async (id: string) =>
  (
    (await t.db.query("SELECT downloads FROM files.links WHERE id = $1", [id])).rows[0] as {
      downloads: number;
    }
  ).downloads;
const failures = async (id: string) =>
  Object.fromEntries(
    (
      await t.db.query("SELECT client, failures FROM files.link_password_failures WHERE link_id = $1", [id])
    ).rows.map((r: { client: string; failures: number }) => [r.client || "*", r.failures]),
  );
const LIMIT = { code: status.RESOURCE_EXHAUSTED, reason: "DOWNLOAD_LIMIT_REACHED" };
const THROTTLED = { code: status.RESOURCE_EXHAUSTED, reason: "LINK_PASSWORD_THROTTLED" };
const WRONG = { code: status.PERMISSION_DENIED, reason: "WRONG_PASSWORD" };

describe("share-link download limit", () => {
  it("counts every served download whatever its range: offset=1 after the last one is refused", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "limited.txt", "hello limit");
    const one = await t.createLink(a.headers, f.id, { maxDownloads: 1 });
    expect(await content(one.token)).toBe("hello limit");
    for (const range of [{ offset: "1" }, { offset: "1", length: "1" }, { offset: "11" }, {}]) {
      expect(await failure(content(one.token, range))).toMatchObject(LIMIT);
    }
    expect(await downloads(one.id)).toBe(1);
    // Ranges count too, from the first byte or not.
    const two = await t.createLink(a.headers, f.id, { maxDownloads: 2 });
    expect(await content(two.token, { offset: "6" })).toBe("limit");
    expect(await content(two.token, { offset: "0", length: "5" })).toBe("hello");
    expect(await failure(content(two.token, { offset: "6" }))).toMatchObject(LIMIT);
    expect(await downloads(two.id)).toBe(2);
  });

  it("holds under parallel calls on two replicas: a limit of 1 serves exactly one", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "race.txt", "only once");
    for (const max of [1, 3]) {
      const link = await t.createLink(a.headers, f.id, { maxDownloads: max });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => content(link.token, { offset: String(i % 2) })),
      );
      const served = results.filter((r) => r.status === "fulfilled");
      expect(served).toHaveLength(max);
      for (const r of results) {
        if (r.status === "rejected") expect(await failure(Promise.reject(r.reason))).toMatchObject(LIMIT);
      }
      expect(await downloads(link.id)).toBe(max);
    }
  });
});

describe("share-link passwords", () => {
  it("come in the x-link-password header (or the discouraged field)", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "pw.txt", "secret");
    const link = await t.createLink(a.headers, f.id, { password: "correct horse" });
    const from = "198.51.100.7";
    expect((await shared(link.token, { header: "correct horse", from })).file?.id).toBe(f.id);
    expect((await shared(link.token, { password: "correct horse", from })).file?.id).toBe(f.id);
    expect(await failure(shared(link.token, { from }))).toMatchObject({ reason: "PASSWORD_REQUIRED" });
    // The header wins over the field.
    expect(
      await failure(shared(link.token, { header: "wrong", password: "correct horse", from })),
    ).toMatchObject(WRONG);
  });

  it("are throttled per link and client address; a throttled guess is neither hashed nor counted", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "guarded.txt", "guarded");
    const link = await t.createLink(a.headers, f.id, { password: "right one" });
    const attacker = "203.0.113.5";
    // Two free failures, and a third that starts the delay.
    for (const guess of ["a", "b", "c"]) {
      expect(await failure(shared(link.token, { header: guess, from: attacker }))).toMatchObject(WRONG);
    }
    const refused = await failure(shared(link.token, { header: "d", from: attacker }));
    expect(refused).toMatchObject(THROTTLED);
    expect(refused.retryAfterMs).toBeGreaterThan(20_000);
    // Even the right password waits (and is not tried): the answer does not tell.
    expect(await failure(shared(link.token, { header: "right one", from: attacker }))).toMatchObject(
      THROTTLED,
    );
    expect(await content(link.token, { password: "right one" })).toBe("guarded"); // another address
    expect(await failures(link.id)).toEqual({ [attacker]: 3, "*": 3, "192.0.2.1": 0 });
  });

  it("parallel guesses from one address cannot slip past the count", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "burst.txt", "burst");
    const link = await t.createLink(a.headers, f.id, { password: "right one" });
    const from = "203.0.113.77";
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => failure(shared(link.token, { header: `guess ${i}`, from }))),
    );
    // free (2) + the one that starts the delay: three were tried, nine refused untried.
    expect(results.filter((r) => r.reason === "WRONG_PASSWORD")).toHaveLength(3);
    expect(results.filter((r) => r.reason === "LINK_PASSWORD_THROTTLED")).toHaveLength(9);
    expect((await failures(link.id))[from]).toBe(3);
  });

  it("an attacker elsewhere cannot lock the holder out; many addresses slow unknown ones briefly", async () => {
    const a = await t.mesh.newUser();
    const f = await t.upload(a.headers, "holder.txt", "mine");
    const link = await t.createLink(a.headers, f.id, { password: "holder's secret" });
    const known = "198.51.100.1";
    expect((await shared(link.token, { header: "holder's secret", from: known })).file?.id).toBe(f.id);
    // One address guessing on: only it is slowed; the holder from anywhere else gets in.
    for (let i = 0; i < 3; i++) await failure(shared(link.token, { header: `x${i}`, from: "203.0.113.9" }));
    expect(await failure(shared(link.token, { header: "x", from: "203.0.113.9" }))).toMatchObject(THROTTLED);
    expect((await shared(link.token, { header: "holder's secret", from: "198.51.100.2" })).file?.id).toBe(
      f.id,
    );
    // Many addresses (8 = 4 × free failures for the whole link, 3 so far): the link slows
    // guesses from addresses that never gave the right password, for at most 2 s here.
    for (let i = 0; i < 6; i++) {
      expect(await failure(shared(link.token, { header: "no", from: `203.0.113.${100 + i}` }))).toMatchObject(
        WRONG,
      );
    }
    const slowed = await failure(shared(link.token, { header: "holder's secret", from: "198.51.100.3" }));
    expect(slowed).toMatchObject(THROTTLED);
    expect(slowed.retryAfterMs).toBeLessThanOrEqual(2000);
    // Holders who got in before are not slowed by it.
    expect((await shared(link.token, { header: "holder's secret", from: known })).file?.id).toBe(f.id);
    // The delay is bounded: after it, the new holder gets in.
    await new Promise((r) => setTimeout(r, (slowed.retryAfterMs ?? 0) + 100));
    expect((await shared(link.token, { header: "holder's secret", from: "198.51.100.3" })).file?.id).toBe(
      f.id,
    );
  });
});
