// The janitor: one pass (expire abandoned uploads, purge old trash, reconcile orphans) at a
// time across every replica — a transaction-scoped advisory lock is held for the pass — on a
// schedule and on demand (RunJanitor). Each pass is recorded in jobs.janitor_runs.
import { AppError, Code, inTransaction, type Logger } from "@filemesh/kit";
import type pg from "pg";
import { type JanitorCounts, type JanitorTasks, unavailable } from "./janitor-tasks.js";

export interface JanitorSettings {
  /** Between scheduled passes; 0 turns the schedule off. */
  intervalMs: number;
  trashRetentionMs: number;
  /** Orphans younger than this are left alone (an upload may be committing them right now). */
  orphanGraceMs: number;
}

export interface Janitor {
  /** One pass now; ABORTED / JANITOR_RUNNING when another replica's pass holds the lock. */
  run(trigger: "schedule" | "admin"): Promise<JanitorCounts>;
  stop(): void;
}

const LOCK = "filemesh.janitor";

export const running = () =>
  new AppError(Code.ABORTED, "JANITOR_RUNNING", "a janitor pass is running already", { retryAfterMs: 5000 });

export function createJanitor(o: {
  pool: pg.Pool;
  tasks: JanitorTasks;
  settings: JanitorSettings;
  log: Logger;
  now?: () => Date;
}): Janitor {
  const log = o.log.child({ component: "janitor" });
  const now = o.now ?? (() => new Date());

  async function pass(): Promise<JanitorCounts> {
    const at = now();
    const expiredUploads = await o.tasks.expireUploads(at);
    const purgedTrash = await o.tasks.purgeTrash(new Date(at.getTime() - o.settings.trashRetentionMs));
    const orphans = await o.tasks.reconcileOrphans(new Date(at.getTime() - o.settings.orphanGraceMs));
    return {
      expiredUploads,
      purgedTrash,
      removedOrphanObjects: orphans.removedObjects,
      markedMissingRows: orphans.markedRows,
      abortedOrphanUploads: orphans.abortedUploads,
    };
  }

  async function run(trigger: "schedule" | "admin"): Promise<JanitorCounts> {
    if (!o.tasks.available) throw unavailable();
    const started = now();
    return inTransaction(o.pool, async (tx) => {
      const { rows } = await tx.query("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS got", [LOCK]);
      if (!rows[0]?.got) throw running();
      let counts: JanitorCounts | undefined;
      let error = "";
      try {
        counts = await pass();
      } catch (err) {
        error = (err as Error).message;
        throw err;
      } finally {
        // A failed pass is recorded too: its own statement, so the record survives the throw.
        await o.pool
          .query(
            `INSERT INTO jobs.janitor_runs (trigger, start_time, counts, error) VALUES ($1, $2, $3::jsonb, $4)`,
            [trigger, started, JSON.stringify(counts ?? {}), error],
          )
          .catch((e: Error) => log.warn({ err: e.message }, "could not record the janitor pass"));
      }
      log.info({ trigger, ...counts }, "janitor pass done");
      return counts;
    });
  }

  let timer: NodeJS.Timeout | undefined;
  if (o.settings.intervalMs > 0 && o.tasks.available) {
    timer = setInterval(() => {
      run("schedule").catch((err: unknown) => {
        if (err instanceof AppError && err.reason === "JANITOR_RUNNING") return;
        log.warn({ err: (err as Error).message }, "scheduled janitor pass failed");
      });
    }, o.settings.intervalMs);
    timer.unref();
  }
  return {
    run,
    stop: () => clearInterval(timer),
  };
}
