// Parsing and validation of the strings the API carries: "user:<id>", "group:<id>",
// "link:<id>", "file:<id>", and of relation tuples. Anything malformed is refused before it
// reaches the index or the database (fail closed: never guessed, never normalised).
import type { FieldViolation } from "@filemesh/kit";
import { isRole, type Tuple } from "./model.js";

export const REF_TYPES = ["user", "group", "link", "file"] as const;
export type RefType = (typeof REF_TYPES)[number];

// Ids are opaque (UUIDs today); the characters are restricted so a ref never needs escaping
// in logs, cursors, the snapshot format (tab-separated) or tuple keys (`#`, `@`, `:`).
const REF = /^(user|group|link|file):([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

export function parseRef(s: string): { type: RefType; id: string } | undefined {
  const m = REF.exec(s);
  return m ? { type: m[1] as RefType, id: m[2]! } : undefined;
}

export const isRefOf = (s: string, ...types: RefType[]): boolean => {
  const r = parseRef(s);
  return r !== undefined && types.includes(r.type);
};

/** A subject a check may ask about: a user, a group or a share link. */
export const isCheckSubject = (s: string): boolean => isRefOf(s, "user", "group", "link");

export interface RelationInput {
  object: string;
  relation: string;
  subject: string;
  expireTime?: Date | undefined;
}

/**
 * Validates one relation; returns the tuple or the violations (field names under `field`).
 * Allowed: file#parent@file, file#viewer|editor|owner@user|group|link (optional expiry),
 * group#member|admin@user|group. No self-edges.
 */
export function validateRelation(
  r: RelationInput,
  field: string,
): { tuple: Tuple; violations: [] } | { violations: FieldViolation[] } {
  const v: FieldViolation[] = [];
  const bad = (f: string, description: string, reason = "INVALID") =>
    v.push({ field: `${field}.${f}`, description, reason });
  const object = parseRef(r.object);
  const subject = parseRef(r.subject);
  if (!object || (object.type !== "file" && object.type !== "group")) {
    bad("object", 'must be "file:<id>" or "group:<id>"');
  }
  if (!subject) bad("subject", 'must be "user:<id>", "group:<id>", "link:<id>" or "file:<id>"');
  const rel = r.relation;
  if (object?.type === "file") {
    if (rel === "parent") {
      if (subject && subject.type !== "file") bad("subject", 'a parent must be "file:<id>"');
    } else if (isRole(rel)) {
      if (subject && subject.type === "file") bad("subject", "a role goes to a user, group or link");
    } else {
      bad("relation", "files take parent, viewer, editor or owner");
    }
  } else if (object?.type === "group") {
    if (rel !== "member" && rel !== "admin") bad("relation", "groups take member or admin");
    else if (subject && subject.type !== "user" && subject.type !== "group") {
      bad("subject", "group members are users or groups");
    }
  }
  if (object && subject && r.object === r.subject)
    bad("subject", "an object cannot relate to itself", "CYCLE");
  let expireAt = 0;
  if (r.expireTime) {
    expireAt = r.expireTime.getTime();
    if (!isRole(rel)) bad("expire_time", "only role grants may expire");
    else if (!Number.isFinite(expireAt) || expireAt <= 0) bad("expire_time", "invalid time");
  }
  if (v.length) return { violations: v };
  return { tuple: { object: r.object, relation: rel, subject: r.subject, expireAt }, violations: [] };
}
