// Applies changes to the index strictly in revision order: the next revision is applied at
// once, a later one waits (bounded) until the gap before it is filled, an old one is ignored.
import { permissionv1 } from "@filemesh/contracts";
import type { AclIndex } from "../index/acl-index.js";

const MAX_PENDING = 10_000;

export function applyChange(index: AclIndex, change: permissionv1.Change): void {
  for (const u of change.updates) {
    const r = u.relation;
    if (!r) continue;
    const op = u.operation === permissionv1.RelationOperation.RELATION_OPERATION_DELETE ? "delete" : "touch";
    index.apply(op, {
      object: r.object,
      relation: r.relation,
      subject: r.subject,
      expireAt: r.expireTime?.getTime() ?? 0,
    });
  }
  index.revision = Number(change.revision);
}

export interface Sequencer {
  /** Applies what it can; returns true while a gap is left before some offered change. */
  offer(change: permissionv1.Change): boolean;
  clear(): void;
}

export function createSequencer(getIndex: () => AclIndex, onAdvance: () => void): Sequencer {
  const pending = new Map<number, permissionv1.Change>();
  return {
    offer(change) {
      const index = getIndex();
      const rev = Number(change.revision);
      if (rev <= index.revision) return pending.size > 0;
      if (rev > index.revision + 1) {
        if (pending.size < MAX_PENDING) pending.set(rev, change);
        return true;
      }
      applyChange(index, change);
      for (let next = pending.get(index.revision + 1); next; next = pending.get(index.revision + 1)) {
        pending.delete(index.revision + 1);
        applyChange(index, next);
      }
      for (const r of pending.keys()) if (r <= index.revision) pending.delete(r);
      onAdvance();
      return pending.size > 0;
    },
    clear: () => pending.clear(),
  };
}
