// The tiny reference model the property tests compare against: a plain set of tuples and
// the definitions of docs/architecture.md §4 evaluated naively (full scans, fixpoints). It knows
// nothing of the index's maps, closures or the sync.
const ROLE_RANK: Record<string, number> = { viewer: 1, editor: 2, owner: 3 };
const PERM_RANK: Record<string, number> = { read: 1, write: 2, share: 2, delete: 3 };
const MAX_DEPTH = 64;

export interface ModelTuple {
  object: string;
  relation: string;
  subject: string;
  expireAt: number;
}

const key = (t: Omit<ModelTuple, "expireAt">) => `${t.object}#${t.relation}@${t.subject}`;
const family = (r: string) => (r in ROLE_RANK ? "role" : r === "member" || r === "admin" ? "group" : r);

export function createModel() {
  const tuples = new Map<string, ModelTuple>();
  const all = () => [...tuples.values()];

  const closure = (subject: string): Set<string> => {
    const set = new Set([subject]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const t of all()) {
        if ((t.relation === "member" || t.relation === "admin") && set.has(t.subject) && !set.has(t.object)) {
          set.add(t.object);
          grew = true;
        }
      }
    }
    return set;
  };

  const chain = (resource: string): string[] => {
    const out = [resource];
    for (let cur = resource; out.length <= MAX_DEPTH; ) {
      const p = all().find((t) => t.relation === "parent" && t.object === cur);
      if (!p) break;
      out.push(p.subject);
      cur = p.subject;
    }
    return out;
  };

  const live = (t: ModelTuple, now: number) => t.expireAt === 0 || t.expireAt > now;

  const rank = (subject: string, resource: string, now: number): number => {
    const subjects = closure(subject);
    const nodes = new Set(chain(resource));
    let best = 0;
    for (const t of all()) {
      const r = ROLE_RANK[t.relation];
      if (r && nodes.has(t.object) && subjects.has(t.subject) && live(t, now)) best = Math.max(best, r);
    }
    return best;
  };

  return {
    /** Touch replaces the other relations of its family (same object and subject; any parent). */
    apply(op: "touch" | "delete", t: ModelTuple) {
      if (op === "delete") {
        tuples.delete(key(t));
        return;
      }
      for (const [k, o] of tuples) {
        const same =
          t.relation === "parent"
            ? o.relation === "parent" && o.object === t.object
            : o.object === t.object && o.subject === t.subject && family(o.relation) === family(t.relation);
        if (same) tuples.delete(k);
      }
      tuples.set(key(t), { ...t });
    },
    rank,
    check: (subject: string, resource: string, permission: string, now: number) =>
      rank(subject, resource, now) >= (PERM_RANK[permission] ?? 99),
    /** Resources with a live grant to the subject or its groups, whose rank reaches the permission's. */
    accessible(subject: string, permission: string, now: number): { resource: string; rank: number }[] {
      const subjects = closure(subject);
      const granted = new Set(
        all()
          .filter((t) => t.relation in ROLE_RANK && subjects.has(t.subject) && live(t, now))
          .map((t) => t.object),
      );
      return [...granted]
        .sort()
        .map((resource) => ({ resource, rank: rank(subject, resource, now) }))
        .filter((r) => r.rank >= (PERM_RANK[permission] ?? 99));
    },
    size: () => tuples.size,
  };
}

export type Model = ReturnType<typeof createModel>;
