// fast-check generators of ACL graphs: folder trees (a file's parent always has a lower
// number, so no cycles), nested groups (likewise), grants to users, groups and links with
// optional expiries, and deletions of any of those.
import fc from "fast-check";
import type { ModelTuple } from "./reference-model.js";

export interface Universe {
  users: string[];
  groups: string[];
  files: string[];
  links: string[];
}

export type Cmd = { op: "touch" | "delete"; tuple: ModelTuple };

/** `expiries` are the expireAt values a grant may get (0 = none). */
export function commandsArb(u: Universe, expiries: number[], max = 30): fc.Arbitrary<Cmd[]> {
  const pick = <T>(xs: T[]) => fc.constantFrom(...xs);
  const op = fc.constantFrom<"touch" | "delete">("touch", "touch", "touch", "delete");
  const fileIdx = fc.integer({ min: 1, max: u.files.length - 1 });
  const parent = fileIdx.chain((i) =>
    fc.record({
      op,
      tuple: fc.record({
        object: fc.constant(u.files[i]!),
        relation: fc.constant("parent"),
        subject: pick(u.files.slice(0, i)),
        expireAt: fc.constant(0),
      }),
    }),
  );
  const grant = fc.record({
    op,
    tuple: fc.record({
      object: pick(u.files),
      relation: fc.constantFrom("viewer", "editor", "owner"),
      subject: pick([...u.users, ...u.groups, ...u.links]),
      expireAt: fc.constantFrom(...expiries),
    }),
  });
  const groupIdx = fc.integer({ min: 0, max: u.groups.length - 1 });
  const member = groupIdx.chain((i) =>
    fc.record({
      op,
      tuple: fc.record({
        object: fc.constant(u.groups[i]!),
        relation: fc.constantFrom("member", "admin"),
        subject: pick([...u.users, ...u.groups.slice(0, i)].filter(Boolean)),
        expireAt: fc.constant(0),
      }),
    }),
  );
  return fc.array(fc.oneof(parent, grant, grant, member), { minLength: 1, maxLength: max });
}

export function universe(prefix: string, n = { users: 4, groups: 4, files: 8, links: 2 }): Universe {
  const ids = (kind: string, count: number) =>
    Array.from({ length: count }, (_, i) => `${kind}:${prefix}-${kind[0]}${i}`);
  return {
    users: ids("user", n.users),
    groups: ids("group", n.groups),
    files: ids("file", n.files),
    links: ids("link", n.links),
  };
}
