// The hot in-memory index: every tuple, the parent of each file, the grants on each file and
// the group closure. A check is a few map look-ups per ancestor (no I/O); expired grants stop
// counting at their expiry without any write. Changes are applied strictly in revision order
// by the sync (sync/index-sync.ts); the index itself only applies what it is given.
import {
  familyOf,
  MAX_DEPTH,
  PERMISSION_RANK,
  type Permission,
  ROLE_RANK,
  type Tuple,
} from "../domain/model.js";
import { createFileTree, type Grant } from "./file-tree.js";
import { createGroupGraph } from "./group-graph.js";

export type { Grant } from "./file-tree.js";

export type Op = "touch" | "delete";

export interface AclIndex {
  /** Revision of the last change applied. */
  revision: number;
  apply(op: Op, t: Tuple): void;
  check(subject: string, resource: string, permission: Permission, now: number): boolean;
  /** Strongest role rank `subject` holds on `resource` (0 = none), inheritance included. */
  rankOn(subject: string, resource: string, now: number, enough?: number): number;
  /**
   * Resources on which the subject (or one of its groups) holds a live grant and whose
   * effective rank reaches `minRank`, in ref order after `after`.
   */
  accessible(
    subject: string,
    minRank: number,
    now: number,
    after: string,
    limit: number,
  ): { resource: string; rank: number }[];
  /** The grant a subject holds directly on a resource (expired ones included). */
  direct(resource: string, subject: string): Grant | undefined;
  tuples(): IterableIterator<Tuple>;
  beginBulk(): void;
  endBulk(): void;
  readonly size: number;
}

export const isLive = (g: Grant, now: number) => g.expireAt === 0 || g.expireAt > now;

export function createAclIndex(): AclIndex {
  const tree = createFileTree();
  const bySubject = new Map<string, Set<string>>();
  const groups = createGroupGraph();
  let grantCount = 0;

  const rankOf = (relation: string) => ROLE_RANK[relation as keyof typeof ROLE_RANK];

  const setGrant = (t: Tuple) => {
    if (tree.setGrant(t.object, t.subject, { rank: rankOf(t.relation), expireAt: t.expireAt })) grantCount++;
    slot(bySubject, t.subject, () => new Set()).add(t.object);
  };

  const deleteGrant = (t: Tuple) => {
    if (!tree.removeGrant(t.object, t.subject, rankOf(t.relation))) return;
    grantCount--;
    const files = bySubject.get(t.subject);
    files?.delete(t.object);
    if (files?.size === 0) bySubject.delete(t.subject);
  };

  const rankOn = (subject: string, resource: string, now: number, enough = 3): number => {
    const closure = groups.closureOf(subject);
    let best = 0;
    let node = tree.get(resource);
    for (let depth = 0; node !== undefined && depth <= MAX_DEPTH; depth++, node = node.parent) {
      const onFile = node.grants;
      if (!onFile) continue;
      if (!closure) {
        const g = onFile.get(subject);
        if (g && g.rank > best && isLive(g, now)) best = g.rank;
      } else if (onFile.size <= closure.size) {
        for (const [s, g] of onFile) {
          if (g.rank > best && closure.has(s) && isLive(g, now)) best = g.rank;
        }
      } else {
        for (const s of closure) {
          const g = onFile.get(s);
          if (g && g.rank > best && isLive(g, now)) best = g.rank;
        }
      }
      if (best >= enough) return best;
    }
    return best;
  };

  const index: AclIndex = {
    revision: 0,
    apply(op, t) {
      const rel = t.relation;
      if (rel === "parent") {
        if (op === "touch") tree.setParent(t.object, t.subject);
        else tree.removeParent(t.object, t.subject);
      } else if (rel === "member" || rel === "admin") {
        const rank = rel === "admin" ? 2 : 1;
        if (op === "touch") groups.set(t.object, t.subject, rank);
        else groups.remove(t.object, t.subject, rank);
      } else if (familyOf(rel).length === 3) {
        if (op === "touch") setGrant(t);
        else deleteGrant(t);
      }
    },
    check(subject, resource, permission, now) {
      const need = PERMISSION_RANK[permission];
      return rankOn(subject, resource, now, need) >= need;
    },
    rankOn,
    accessible(subject, minRank, now, after, limit) {
      const closure = groups.closureOf(subject) ?? [subject];
      const candidates = new Set<string>();
      for (const s of closure) {
        for (const f of bySubject.get(s) ?? []) {
          const g = tree.get(f)?.grants?.get(s);
          if (g && isLive(g, now) && f > after) candidates.add(f);
        }
      }
      const out: { resource: string; rank: number }[] = [];
      for (const resource of [...candidates].sort()) {
        const rank = rankOn(subject, resource, now);
        if (rank >= minRank) out.push({ resource, rank });
        if (out.length >= limit) break;
      }
      return out;
    },
    direct: (resource, subject) => tree.get(resource)?.grants?.get(subject),
    *tuples() {
      for (const n of tree.nodes()) {
        const object = n.ref;
        if (n.parent) yield { object, relation: "parent", subject: n.parent.ref, expireAt: 0 };
        for (const [subject, g] of n.grants ?? []) {
          yield { object, relation: RELATION_OF_RANK[g.rank]!, subject, expireAt: g.expireAt };
        }
      }
      for (const [object, subject, rank] of groups.edges()) {
        yield { object, relation: rank === 2 ? "admin" : "member", subject, expireAt: 0 };
      }
    },
    beginBulk: () => groups.beginBulk(),
    endBulk: () => groups.endBulk(),
    get size() {
      return tree.parents + grantCount + groups.size;
    },
  };
  return index;
}

const RELATION_OF_RANK = ["", "viewer", "editor", "owner"];

function slot<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
