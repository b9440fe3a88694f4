// The admin RPCs of ProcessorService (the kit's caller checks require the admin claim).
import type { processorv1 } from "@filemesh/contracts";
import { type Handlers, invalidArgument, type PageTokens, unavailable } from "@filemesh/kit";
import type pg from "pg";
import { queryAuditEvents } from "../audit/audit-query.js";
import type { DeadLetters } from "../events/dead-letters.js";
import type { Janitor } from "../janitor/janitor.js";

type Service = typeof processorv1.ProcessorServiceService;

export interface AdminDeps {
  pool: pg.Pool;
  /** Signs and checks ListAuditEvents page tokens (kit paging). */
  pageTokens: PageTokens;
  janitor: Janitor;
  /** Undefined until NATS is connected. */
  deadLetters(): DeadLetters | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_IDS = 1000;

export function createAdminHandlers(deps: AdminDeps) {
  return {
    async listAuditEvents(req, ctx) {
      return queryAuditEvents(deps.pool, deps.pageTokens, req, ctx.principal?.subject ?? "");
    },

    async redriveDeadLetters(req, ctx) {
      if (req.eventIds.length > MAX_IDS) {
        throw invalidArgument("TOO_MANY_IDS", `at most ${MAX_IDS} event ids`, [
          { field: "event_ids", description: `more than ${MAX_IDS}` },
        ]);
      }
      const bad = req.eventIds.findIndex((id) => !UUID.test(id));
      if (bad >= 0) {
        throw invalidArgument("INVALID_EVENT_ID", "event ids are UUIDs", [
          { field: `event_ids[${bad}]`, description: "not a UUID" },
        ]);
      }
      const dead = deps.deadLetters();
      if (!dead) throw unavailable("NATS_UNAVAILABLE", "the event stream is not reachable yet", 1000);
      try {
        return { redriven: await dead.redrive(req.eventIds.map((id) => id.toLowerCase())) };
      } catch (err) {
        ctx.log.warn({ err: (err as Error).message }, "redrive failed");
        throw unavailable(
          "NATS_UNAVAILABLE",
          "the event stream did not answer; nothing was lost, try again",
          1000,
        );
      }
    },

    async runJanitor() {
      return deps.janitor.run("admin");
    },
  } satisfies Partial<Handlers<Service>>;
}
