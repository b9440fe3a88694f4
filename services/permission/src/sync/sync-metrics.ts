import { Counter, Gauge, type Registry } from "@filemesh/kit";

/** Why the sync read Postgres: its poll, a gap or lag being filled, a `min_revision` wait. */
export type ReadCause = "poll" | "catch_up" | "min_revision";

/**
 * Index gauges, read at scrape time (no cost on the apply path), and a counter of the sync's
 * Postgres reads by cause; returns the function that counts one.
 */
export function syncMetrics(
  registry: Registry,
  read: () => { revision: number; lag: number; tuples: number },
): (cause: ReadCause) => void {
  const reads = new Counter({
    name: "filemesh_acl_sync_db_reads_total",
    help: "Postgres queries the ACL index sync made, by cause (poll, catch_up, min_revision).",
    labelNames: ["cause"],
    registers: [registry],
  });
  new Gauge({
    name: "filemesh_acl_index_revision",
    help: "Revision of the last change applied to this replica's ACL index.",
    registers: [registry],
    collect() {
      this.set(read().revision);
    },
  });
  new Gauge({
    name: "filemesh_acl_index_lag_revisions",
    help: "Revisions committed (as last seen in Postgres or the stream) but not yet applied here.",
    registers: [registry],
    collect() {
      this.set(read().lag);
    },
  });
  new Gauge({
    name: "filemesh_acl_index_tuples",
    help: "Tuples held by this replica's ACL index.",
    registers: [registry],
    collect() {
      this.set(read().tuples);
    },
  });
  return (cause) => reads.inc({ cause });
}
