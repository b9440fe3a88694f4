// Profiles: GetMe right after registration, UpdateMe with a field mask, GetUser (public fields
// of others), LookupUser (exact e-mail, one NOT_FOUND for every miss), events in the outbox.
import { eventsv1 } from "@filemesh/contracts";
import { failure, uniqueId } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { useUserMesh } from "./start-user.js";

const t = useUserMesh();
const db = t.db;

describe("GetMe", () => {
  it("answers right after registration with the caller's whole profile", async () => {
    const a = await t.mesh.newUser();
    const { user } = await t.u.getMe(a.headers);
    expect(user).toMatchObject({ id: a.userId, email: a.email, displayName: a.email.slice(0, 12), bio: "" });
    expect(user?.createTime).toBeInstanceOf(Date);
    // No file service in this mesh: the home folder stays empty rather than failing the call.
    expect(user?.homeFolderId).toBe("");
  });

  it("creates profiles from auth's user_registered events without any call", async () => {
    const a = await t.mesh.newUser();
    let rows: unknown[] = [];
    // Up to the ack wait and more: a message another test file's stopping mesh had pulled comes back.
    for (let i = 0; i < 250 && rows.length === 0; i++) {
      ({ rows } = await db.query("SELECT id FROM users.profiles WHERE id = $1", [a.userId]));
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(1);
  });

  it("is refused without a token", async () => {
    expect(await failure(t.u.getMe({}))).toMatchObject({ code: status.UNAUTHENTICATED });
  });
});

describe("UpdateMe", () => {
  it("changes only the fields named in the mask and emits profile_updated", async () => {
    const a = await t.mesh.newUser();
    const { user } = await t.u.updateMe(
      {
        user: {
          id: "",
          email: "",
          displayName: "Ada L.",
          avatarUrl: "https://x.test/a.png",
          bio: "hi",
          homeFolderId: "",
        },
        updateMask: ["display_name", "bio"],
      },
      a.headers,
    );
    expect(user).toMatchObject({ displayName: "Ada L.", bio: "hi", avatarUrl: "", email: a.email });
    const { rows } = await db.query(
      "SELECT payload FROM users.outbox WHERE subject = 'filemesh.users.profile_updated' ORDER BY seq DESC LIMIT 50",
    );
    const mine = rows
      .map((r) => eventsv1.ProfileUpdated.decode(r.payload))
      .find((e) => e.userId === a.userId);
    expect(mine?.fields).toEqual(["display_name", "bio"]);
    expect(mine?.meta?.actor).toBe(`user:${a.userId}`);
  });

  it("with no mask updates the non-empty updatable fields; id, email and home folder are ignored", async () => {
    const a = await t.mesh.newUser();
    const other = await t.mesh.newUser();
    const { user } = await t.u.updateMe(
      {
        user: {
          id: other.userId,
          email: other.email,
          displayName: "",
          avatarUrl: "https://cdn.example.com/me.png",
          bio: "",
          homeFolderId: "f-1",
        },
      },
      a.headers,
    );
    expect(user).toMatchObject({
      id: a.userId,
      email: a.email,
      displayName: a.email.slice(0, 12),
      avatarUrl: "https://cdn.example.com/me.png",
      homeFolderId: "",
    });
    expect((await t.u.getMe(other.headers)).user?.avatarUrl).toBe("");
  });

  it('"*" replaces every updatable field (clearing the bio)', async () => {
    const a = await t.mesh.newUser();
    await t.u.updateMe({ user: { ...blank(), bio: "old" }, updateMask: ["bio"] }, a.headers);
    const { user } = await t.u.updateMe(
      { user: { ...blank(), displayName: "Neu" }, updateMask: ["*"] },
      a.headers,
    );
    expect(user).toMatchObject({ displayName: "Neu", bio: "", avatarUrl: "" });
  });

  it.each([
    [["email"], "FIELD_NOT_UPDATABLE", "update_mask"],
    [["id"], "FIELD_NOT_UPDATABLE", "update_mask"],
    [["home_folder_id"], "FIELD_NOT_UPDATABLE", "update_mask"],
    [["nope"], "INVALID_UPDATE_MASK", "update_mask"],
  ])("refuses the mask %j", async (mask, reason, field) => {
    const a = await t.mesh.newUser();
    const err = await failure(t.u.updateMe({ user: blank(), updateMask: mask }, a.headers));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
    expect(err.fieldViolations[0]?.field).toBe(field);
  });

  it.each([
    [{ displayName: "" }, ["display_name"], "INVALID_DISPLAY_NAME", "user.display_name"],
    [{ displayName: "x".repeat(101) }, ["display_name"], "INVALID_DISPLAY_NAME", "user.display_name"],
    [{ displayName: "evil\u202Egnp.exe" }, ["display_name"], "INVALID_DISPLAY_NAME", "user.display_name"],
    [{ displayName: "a\u0000b" }, ["display_name"], "INVALID_DISPLAY_NAME", "user.display_name"],
    [{ avatarUrl: "javascript:alert(1)" }, ["avatar_url"], "INVALID_AVATAR_URL", "user.avatar_url"],
    [
      { avatarUrl: "http://plain.example.com/a.png" },
      ["avatar_url"],
      "INVALID_AVATAR_URL",
      "user.avatar_url",
    ],
    [{ avatarUrl: "https://u:p@x.test/a.png" }, ["avatar_url"], "INVALID_AVATAR_URL", "user.avatar_url"],
    [{ bio: "b".repeat(1001) }, ["bio"], "INVALID_BIO", "user.bio"],
  ])("refuses %j with a field violation", async (fields, mask, reason, field) => {
    const a = await t.mesh.newUser();
    const err = await failure(t.u.updateMe({ user: { ...blank(), ...fields }, updateMask: mask }, a.headers));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason });
    expect(err.fieldViolations.map((v) => v.field)).toEqual([field]);
  });

  it("keeps newlines in a bio and normalises CRLF", async () => {
    const a = await t.mesh.newUser();
    const { user } = await t.u.updateMe(
      { user: { ...blank(), bio: "line 1\r\nline 2" }, updateMask: ["bio"] },
      a.headers,
    );
    expect(user?.bio).toBe("line 1\nline 2");
  });
});

describe("GetUser", () => {
  it("shows others only public fields and the user themself everything", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    await t.u.updateMe({ user: { ...blank(), bio: "private-ish" }, updateMask: ["bio"] }, b.headers);
    const { user } = await t.u.getUser(b.userId, a.headers);
    expect(user).toEqual({
      id: b.userId,
      email: "",
      displayName: b.email.slice(0, 12),
      avatarUrl: "",
      bio: "",
      homeFolderId: "",
      createTime: undefined,
      updateTime: undefined,
    });
    expect((await t.u.getUser(b.userId, b.headers)).user).toMatchObject({
      email: b.email,
      bio: "private-ish",
    });
  });

  it("answers NOT_FOUND for an unknown id and INVALID_ARGUMENT for a malformed one", async () => {
    const a = await t.mesh.newUser();
    expect(await failure(t.u.getUser("00000000-0000-4000-8000-000000000000", a.headers))).toMatchObject({
      code: status.NOT_FOUND,
      reason: "USER_NOT_FOUND",
    });
    const err = await failure(t.u.getUser("../etc/passwd", a.headers));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_ID" });
    expect(err.fieldViolations[0]?.field).toBe("user_id");
  });
});

describe("LookupUser", () => {
  it("finds a user by exact e-mail (case and spaces aside) with public fields and the e-mail", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    await t.u.getMe(b.headers);
    const { user } = await t.u.lookupUser(`  ${b.email.toUpperCase()} `, a.headers);
    expect(user).toMatchObject({ id: b.userId, email: b.email, bio: "", homeFolderId: "" });
  });

  it("gives one NOT_FOUND for unknown addresses and for prefixes, and refuses malformed ones", async () => {
    const a = await t.mesh.newUser();
    const b = await t.mesh.newUser();
    await t.u.getMe(b.headers);
    for (const email of [
      `${uniqueId("nobody")}@example.com`,
      b.email.slice(0, -3),
      b.email.replace("@", "%@"),
    ]) {
      const err = await failure(t.u.lookupUser(email, a.headers));
      expect(err).toMatchObject({
        code: status.NOT_FOUND,
        reason: "USER_NOT_FOUND",
        message: "no such user",
      });
    }
    for (const email of ["", "no-at", "a@", "@b.c", "a@@b.c", `${"x".repeat(251)}@b.c`]) {
      expect(await failure(t.u.lookupUser(email, a.headers))).toMatchObject({
        code: status.INVALID_ARGUMENT,
        reason: "INVALID_EMAIL",
      });
    }
  });
});

function blank() {
  return { id: "", email: "", displayName: "", avatarUrl: "", bio: "", homeFolderId: "" };
}
