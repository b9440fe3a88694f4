// Group memberships (users and groups in groups, nested) with the closure precomputed
// (Leopard-style): for every user that belongs to any group, the set of every subject that
// stands for them in a grant — the user itself and each group it belongs to, transitively.
// A membership change recomputes the closures of exactly the users below the changed edge.

export interface GroupGraph {
  /** Direct edge `group#member|admin@subject` (rank 1 member, 2 admin). */
  set(group: string, subject: string, rank: number): void;
  remove(group: string, subject: string, rank: number): void;
  /** The subjects standing for `subject` (itself included), or undefined when only itself. */
  closureOf(subject: string): ReadonlySet<string> | undefined;
  /** Direct edges, for the snapshot: [group, subject, rank]. */
  edges(): IterableIterator<[string, string, number]>;
  /** Bulk loading: skip closure maintenance until endBulk() rebuilds every closure. */
  beginBulk(): void;
  endBulk(): void;
  readonly size: number;
}

const isUser = (s: string) => s.startsWith("user:");

export function createGroupGraph(): GroupGraph {
  /** subject → group → rank (direct edges, upward). */
  const memberOf = new Map<string, Map<string, number>>();
  /** group → direct member subjects (downward, to find whom a change affects). */
  const members = new Map<string, Set<string>>();
  /** user → closure (only users in at least one group). */
  const closures = new Map<string, Set<string>>();
  let bulk = false;
  let edgeCount = 0;

  const walkUp = (subject: string): Set<string> => {
    const seen = new Set<string>([subject]);
    const queue = [subject];
    for (let i = 0; i < queue.length; i++) {
      const groups = memberOf.get(queue[i]!);
      if (!groups) continue;
      for (const g of groups.keys()) {
        if (!seen.has(g)) {
          seen.add(g);
          queue.push(g);
        }
      }
    }
    return seen;
  };

  const recompute = (user: string) => {
    const c = walkUp(user);
    if (c.size > 1) closures.set(user, c);
    else closures.delete(user);
  };

  /** Users at or below `subject` (cycle-safe). */
  const usersBelow = (subject: string): string[] => {
    if (isUser(subject)) return [subject];
    const seen = new Set<string>([subject]);
    const queue = [subject];
    const users: string[] = [];
    for (let i = 0; i < queue.length; i++) {
      for (const m of members.get(queue[i]!) ?? []) {
        if (seen.has(m)) continue;
        seen.add(m);
        if (isUser(m)) users.push(m);
        else queue.push(m);
      }
    }
    return users;
  };

  const changed = (subject: string) => {
    if (!bulk) for (const u of usersBelow(subject)) recompute(u);
  };

  return {
    set(group, subject, rank) {
      const up = slot(memberOf, subject, () => new Map());
      const had = up.has(group);
      up.set(group, rank);
      if (had) return;
      edgeCount++;
      const down = slot(members, group, () => new Set());
      down.add(subject);
      changed(subject);
    },
    remove(group, subject, rank) {
      const up = memberOf.get(subject);
      if (up?.get(group) !== rank) return;
      up.delete(group);
      if (up.size === 0) memberOf.delete(subject);
      const down = members.get(group);
      down?.delete(subject);
      if (down?.size === 0) members.delete(group);
      edgeCount--;
      changed(subject);
    },
    closureOf(subject) {
      if (isUser(subject)) return closures.get(subject);
      if (!memberOf.has(subject)) return undefined;
      return walkUp(subject);
    },
    *edges() {
      for (const [subject, groups] of memberOf) for (const [g, rank] of groups) yield [g, subject, rank];
    },
    beginBulk() {
      bulk = true;
    },
    endBulk() {
      bulk = false;
      closures.clear();
      for (const subject of memberOf.keys()) if (isUser(subject)) recompute(subject);
    },
    get size() {
      return edgeCount;
    },
  };
}

function slot<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
