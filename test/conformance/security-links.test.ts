// REST conformance, issue 12: share-link attacks through the gateway. A download limit holds
// whatever the range (`?offset=1` after the last download) and under parallel requests; the
// password goes in the `x-link-password` header (the `password` query parameter still works,
// discouraged: URLs get logged); wrong passwords are throttled (429 + Retry-After), and a
// throttled client is refused even with the right password.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileClient } from "./file-client.js";
import { reasonOf, startTarget, type Target } from "./target.js";

let t: Target;
beforeAll(async () => {
  t = await startTarget({
    services: ["auth", "user", "permission", "file"],
    serviceEnv: { file: { LINK_PASSWORD_FREE_ATTEMPTS: "1", LINK_PASSWORD_BACKOFF_BASE: "1m" } },
  });
});
afterAll(() => t?.stop());

const { signup, call, raw } = fileClient(() => t.base);
type Raw = Awaited<ReturnType<typeof raw>>;
const reason = (r: Raw) => reasonOf(JSON.parse(r.bytes.toString()));

async function sharedFile(text: string, link: Record<string, unknown>) {
  const a = await signup();
  const up = await raw("POST", `/v1/files:upload?name=shared.txt`, a.auth, Buffer.from(text));
  const file = JSON.parse(up.bytes.toString());
  const created = await call("POST", `/v1/files/${file.id}/links`, a.auth, link);
  expect(created.status).toBe(200);
  return created.body.token as string;
}

describe("share-link download limit over REST", () => {
  it("a link with maxDownloads 1 serves once: ?offset=1 afterwards is 429 every time", async () => {
    const token = await sharedFile("count me once", { maxDownloads: 1 });
    const first = await raw("GET", `/v1/links/${token}/content`, {});
    expect([first.status, first.bytes.toString()]).toEqual([200, "count me once"]);
    for (const query of ["?offset=1", "?offset=1", "?offset=1&length=1", "?offset=12", ""]) {
      const again = await raw("GET", `/v1/links/${token}/content${query}`, {});
      expect([query, again.status, reason(again)]).toEqual([query, 429, "DOWNLOAD_LIMIT_REACHED"]);
    }
    const meta = await call("GET", `/v1/links/${token}`);
    expect(meta.body.link).toMatchObject({ maxDownloads: 1, downloads: 1 });
  });

  it("two parallel downloads on a limit of 1: exactly one is served", async () => {
    const token = await sharedFile("race", { maxDownloads: 1 });
    const both = await Promise.all([
      raw("GET", `/v1/links/${token}/content`, {}),
      raw("GET", `/v1/links/${token}/content?offset=1`, {}),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 429]);
    expect(reason(both.find((r) => r.status === 429)!)).toBe("DOWNLOAD_LIMIT_REACHED");
  });
});

describe("share-link passwords over REST", () => {
  it("go in the x-link-password header; the password query parameter still works", async () => {
    const token = await sharedFile("behind a password", { password: "open sesame" });
    const header = { "x-link-password": "open sesame" };
    const viaHeader = await call("GET", `/v1/links/${token}`, header);
    expect([viaHeader.status, viaHeader.body.link?.hasPassword]).toEqual([200, true]);
    const bytes = await raw("GET", `/v1/links/${token}/content`, header);
    expect([bytes.status, bytes.bytes.toString()]).toEqual([200, "behind a password"]);
    const viaQuery = await call("GET", `/v1/links/${token}?password=open%20sesame`);
    expect(viaQuery.status).toBe(200);
    const none = await call("GET", `/v1/links/${token}`);
    expect([none.status, reasonOf(none.body)]).toEqual([403, "PASSWORD_REQUIRED"]);
  });

  it("wrong guesses are throttled with 429 + Retry-After, and then even the right one waits", async () => {
    const token = await sharedFile("guarded", { password: "right password" });
    for (let i = 0; i < 2; i++) {
      const wrong = await call("GET", `/v1/links/${token}`, { "x-link-password": `guess ${i}` });
      expect([wrong.status, reasonOf(wrong.body)]).toEqual([403, "WRONG_PASSWORD"]);
    }
    const throttled = await call("GET", `/v1/links/${token}`, { "x-link-password": "guess 2" });
    expect([throttled.status, reasonOf(throttled.body)]).toEqual([429, "LINK_PASSWORD_THROTTLED"]);
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    const right = await raw("GET", `/v1/links/${token}/content`, { "x-link-password": "right password" });
    expect([right.status, reason(right)]).toEqual([429, "LINK_PASSWORD_THROTTLED"]);
  });
});
