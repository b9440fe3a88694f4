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
import { createGroupGraph } from "./group-graph.js";

export interface Grant {
  rank: number;
  /** Epoch ms; 0 = never. */
  expireAt: number;
}

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
  const parents = new Map<string, string>();
  const grants = new Map<string, Map<string, Grant>>();
  const bySubject = new Map<string, Set<string>>();
  const groups = createGroupGraph();
  let grantCount = 0;

  const setGrant = (t: Tuple) => {
    const onFile = slot(grants, t.object, () => new Map());
    if (!onFile.has(t.subject)) grantCount++;
    onFile.set(t.subject, { rank: ROLE_RANK[t.relation as keyof typeof ROLE_RANK], expireAt: t.expireAt });
    const files = slot(bySubject, t.subject, () => new Set());
    files.add(t.object);
  };

  const deleteGrant = (t: Tuple) => {
    const onFile = grants.get(t.object);
    const g = onFile?.get(t.subject);
    if (!onFile || !g || g.rank !== ROLE_RANK[t.relation as keyof typeof ROLE_RANK]) return;
    onFile.delete(t.subject);
    grantCount--;
    if (onFile.size === 0) grants.delete(t.object);
    const files = bySubject.get(t.subject);
    files?.delete(t.object);
    if (files?.size === 0) bySubject.delete(t.subject);
  };

  const rankOn = (subject: string, resource: string, now: number, enough = 3): number => {
    const closure = groups.closureOf(subject);
    let best = 0;
    let node: string | undefined = resource;
    for (let depth = 0; node !== undefined && depth <= MAX_DEPTH; depth++) {
      const onFile = grants.get(node);
      if (onFile) {
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
      node = parents.get(node);
    }
    return best;
  };

  const index: AclIndex = {
    revision: 0,
    apply(op, t) {
      const rel = t.relation;
      if (rel === "parent") {
        if (op === "touch") parents.set(t.object, t.subject);
        else if (parents.get(t.object) === t.subject) parents.delete(t.object);
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
          const g = grants.get(f)?.get(s);
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
    direct: (resource, subject) => grants.get(resource)?.get(subject),
    *tuples() {
      for (const [object, subject] of parents) yield { object, relation: "parent", subject, expireAt: 0 };
      for (const [object, onFile] of grants) {
        for (const [subject, g] of onFile) {
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
      return parents.size + grantCount + groups.size;
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
