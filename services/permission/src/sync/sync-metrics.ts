import { Gauge, type Registry } from "@filemesh/kit";

/** Index gauges, read at scrape time (no cost on the apply path). */
export function syncMetrics(
  registry: Registry,
  read: () => { revision: number; lag: number; tuples: number },
): void {
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
}
