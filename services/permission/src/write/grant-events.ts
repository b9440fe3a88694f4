// Events of a write: one GrantCreated per role tuple created, one GrantDeleted per role tuple
// removed (whatever the path: CreateGrant, DeleteGrant or WriteRelations), in the same
// transaction as the change (outbox).
import { eventsv1 } from "@filemesh/contracts";
import { makeEvent, newEventMeta, type OutboxEvent } from "@filemesh/kit";
import { isRole } from "../domain/model.js";
import type { EffectiveUpdate } from "../store/tuple-writes.js";

export interface EventContext {
  actor: string;
  requestId: string;
  traceparent?: string | undefined;
}

export function grantEvents(
  effective: readonly EffectiveUpdate[],
  revision: number,
  c: EventContext,
): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (const u of effective) {
    const t = u.tuple;
    if (!isRole(t.relation) || (u.op === "touch" && !u.created)) continue;
    const meta = newEventMeta({
      actor: c.actor,
      resource: t.object,
      requestId: c.requestId,
      ...(c.traceparent ? { traceparent: c.traceparent } : {}),
    });
    const common = {
      meta,
      grantId: u.id,
      resource: t.object,
      subject: t.subject,
      revision: String(revision),
    };
    out.push(
      u.op === "touch"
        ? makeEvent("filemesh.acl.grant_created", "filemesh.events.v1.GrantCreated", eventsv1.GrantCreated, {
            ...common,
            role: t.relation,
          })
        : makeEvent(
            "filemesh.acl.grant_deleted",
            "filemesh.events.v1.GrantDeleted",
            eventsv1.GrantDeleted,
            common,
          ),
    );
  }
  return out;
}
