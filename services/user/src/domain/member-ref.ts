// Member references: "user:<uuid>" or "group:<uuid>" (and, where the API allows it, a bare
// user id). One parser, so every RPC accepts and refuses exactly the same strings.
import { bad, isUuid } from "./validate.js";

export type MemberKind = "user" | "group";

export interface MemberRef {
  kind: MemberKind;
  id: string;
}

export const subjectOf = (m: MemberRef): string => `${m.kind}:${m.id}`;

export function parseMember(raw: string, field: string, o: { allowBareUserId?: boolean } = {}): MemberRef {
  const v = raw.trim().toLowerCase();
  const colon = v.indexOf(":");
  if (colon < 0) {
    if (o.allowBareUserId && isUuid(v)) return { kind: "user", id: v };
    throw bad("INVALID_MEMBER", field, 'must be "user:<id>" or "group:<id>"');
  }
  const kind = v.slice(0, colon);
  const id = v.slice(colon + 1);
  if ((kind !== "user" && kind !== "group") || !isUuid(id)) {
    throw bad("INVALID_MEMBER", field, 'must be "user:<id>" or "group:<id>" with a UUID id');
  }
  return { kind, id };
}
