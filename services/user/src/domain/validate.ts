// Input checks shared by the handlers. Each failure is INVALID_ARGUMENT with a stable reason
// and a field violation naming the field as the proto spells it.
import { invalidArgument, type Reason } from "@filemesh/kit";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Control, format and private-use characters, line/paragraph separators; `multiline` allows
// \n and \t (and turns \r\n into \n).
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Co}\u2028\u2029]/u;
const UNPRINTABLE_MULTILINE = /(?![\n\t])[\p{Cc}\p{Cf}\p{Co}\u2028\u2029]/u;

export const bad = (reason: Reason, field: string, description: string) =>
  invalidArgument(reason, `${field} ${description}`, [{ field, description }]);

/** A canonical (lower-case) UUID, or INVALID_ARGUMENT naming `field`. */
export function uuidOf(raw: string, field: string, reason: Reason = "INVALID_ID"): string {
  const id = raw.trim().toLowerCase();
  if (!UUID.test(id)) throw bad(reason, field, "must be a UUID");
  return id;
}

export function isUuid(raw: string): boolean {
  return UUID.test(raw);
}

/** NFC, trimmed, 1..max printable characters (code points). */
export function textOf(
  raw: string,
  o: { field: string; reason: Reason; max: number; min?: number; multiline?: boolean },
): string {
  const nfc = raw.normalize("NFC");
  const v = (o.multiline ? nfc.replace(/\r\n?/g, "\n") : nfc).trim();
  const n = [...v].length;
  const min = o.min ?? 1;
  if (n < min) throw bad(o.reason, o.field, min > 0 ? "is required" : "is too short");
  if (n > o.max) throw bad(o.reason, o.field, `must be at most ${o.max} characters`);
  if ((o.multiline ? UNPRINTABLE_MULTILINE : UNPRINTABLE).test(v)) {
    throw bad(o.reason, o.field, "must not contain control or invisible characters");
  }
  return v;
}

export const displayNameOf = (raw: string) =>
  textOf(raw, { field: "user.display_name", reason: "INVALID_DISPLAY_NAME", max: 100 });
export const bioOf = (raw: string) =>
  textOf(raw, { field: "user.bio", reason: "INVALID_BIO", max: 1000, min: 0, multiline: true });
export const groupNameOf = (raw: string) =>
  textOf(raw, { field: "group.name", reason: "INVALID_GROUP_NAME", max: 100 });
export const descriptionOf = (raw: string) =>
  textOf(raw, {
    field: "group.description",
    reason: "INVALID_DESCRIPTION",
    max: 1000,
    min: 0,
    multiline: true,
  });

/** Empty (no avatar) or an https URL of at most 2048 characters without credentials. */
export function avatarUrlOf(raw: string): string {
  const v = raw.trim();
  if (v === "") return "";
  const fail = (why: string) => bad("INVALID_AVATAR_URL", "user.avatar_url", why);
  if (v.length > 2048) throw fail("must be at most 2048 characters");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw fail("must be an absolute https URL");
  }
  if (u.protocol !== "https:" || !u.hostname) throw fail("must be an absolute https URL");
  if (u.username || u.password) throw fail("must not contain credentials");
  return u.href;
}

/** Exact-match lookup key: trimmed, lower-cased, shaped like name@domain. */
export function lookupEmailOf(raw: string): string {
  const email = raw.normalize("NFC").trim().toLowerCase();
  const fail = (why: string) => bad("INVALID_EMAIL", "email", why);
  if (email.length === 0) throw fail("is required");
  if (email.length > 254) throw fail("must be at most 254 characters");
  const at = email.indexOf("@");
  if (at <= 0 || at !== email.lastIndexOf("@") || at === email.length - 1 || /[\s\p{Cc}]/u.test(email)) {
    throw fail("must look like name@example.com");
  }
  return email;
}

export type Role = "member" | "admin";

/** "" → member (the default); "member" or "admin"; anything else INVALID_ARGUMENT. */
export function roleOf(raw: string): Role {
  const v = raw.trim().toLowerCase();
  if (v === "" || v === "member") return "member";
  if (v === "admin") return "admin";
  throw bad("INVALID_ROLE", "role", 'must be "member" or "admin"');
}
