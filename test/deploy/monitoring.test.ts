// Alerts (k8s/filemesh/files/alerts.yaml) and the Grafana dashboard name only metrics the
// services really export: the names are read from a real service runtime's /metrics (plus
// the outbox relay's and the ACL index's metrics, registered the way those do), never from a
// list here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { codeName, createLogger, createRegistry, type Runtime, relayMetrics } from "@filemesh/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syncMetrics } from "../../services/permission/src/sync/sync-metrics.js";
import { startProcessorService } from "../../services/processor/src/app.js";
import { loadProcessorConfig } from "../../services/processor/src/config.js";
import { ROOT, readYaml } from "./lib/render.js";

/** Series Prometheus makes itself. */
const SYNTHETIC = new Set(["up"]);

const PROMQL_WORDS = new Set(
  (
    "sum rate irate increase max min avg count by without on ignoring group_left group_right and or unless " +
    "histogram_quantile topk bottomk abs absent clamp_min clamp_max bool offset label_values humanizePercentage"
  ).split(" "),
);

/** Metric names in a PromQL expression (label matchers, grouping, strings and ranges removed). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\$\w+/g, "");
  return [...new Set(bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [])].filter(
    (t) => !PROMQL_WORDS.has(t) && /_/.test(t) && !/^\d/.test(t),
  );
}

let runtime: Runtime | undefined;
let exported = new Set<string>();

/** Every series name a metric family yields (histograms: _bucket, _sum, _count). */
function seriesNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = "", type] = m;
    out.add(name);
    if (type === "histogram" || type === "summary")
      for (const s of ["_bucket", "_sum", "_count"]) out.add(name + s);
  }
  return out;
}

beforeAll(async () => {
  const config = loadProcessorConfig({
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    ADMIN_PORT: "0",
    LOG_LEVEL: "silent",
    INTERNAL_TOKEN: "monitoring-test-internal-token",
  });
  runtime = await startProcessorService(config, createLogger({ service: "processor", level: "silent" }));
  const res = await fetch(`http://127.0.0.1:${runtime.adminPort}/metrics`);
  expect(res.status).toBe(200);
  const relay = createRegistry("auth");
  relayMetrics(relay);
  const acl = createRegistry("permission");
  syncMetrics(acl, () => ({ revision: 0, lag: 0, tuples: 0 }));
  exported = new Set([
    ...seriesNames(await res.text()),
    ...seriesNames(await relay.metrics()),
    ...seriesNames(await acl.metrics()),
  ]);
});

afterAll(async () => {
  await runtime?.shutdown("test done");
});

const alerts = readYaml(join(ROOT, "k8s", "filemesh", "files", "alerts.yaml")) as any;
const rules: { alert: string; expr: string }[] = alerts.groups.flatMap((g: { rules: unknown[] }) => g.rules);
const dashboard = JSON.parse(
  readFileSync(join(ROOT, "k8s", "filemesh", "files", "dashboards", "filemesh.json"), "utf8"),
);
const panelExprs: { title: string; expr: string }[] = dashboard.panels.flatMap(
  (p: { title: string; targets: { expr: string }[] }) =>
    p.targets.map((t) => ({ title: p.title, expr: t.expr })),
);

const unknownIn = (expr: string) => metricNames(expr).filter((n) => !exported.has(n) && !SYNTHETIC.has(n));

describe("monitoring", () => {
  it("the services export the gRPC and outbox metrics", () => {
    for (const name of [
      "grpc_server_started_total",
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "filemesh_outbox_backlog",
      "filemesh_outbox_published_total",
      "filemesh_outbox_publish_errors_total",
      "nodejs_eventloop_lag_p99_seconds",
    ])
      expect(exported.has(name), name).toBe(true);
  });

  it("has the alerts the issue asks for", () => {
    const names = rules.map((r) => r.alert);
    for (const a of [
      "FilemeshRpcErrorRate",
      "FilemeshRpcLatencyHigh",
      "FilemeshOutboxBacklog",
      "FilemeshAclIndexLag",
      "FilemeshDeadLetters",
    ])
      expect(names).toContain(a);
  });

  it.each(rules.map((r) => [r.alert, r.expr]))("alert %s names only exported metrics", (_, expr) => {
    expect(unknownIn(expr)).toEqual([]);
  });

  it.each(panelExprs.map((p) => [p.title, p.expr]))("panel %s names only exported metrics", (_, expr) => {
    expect(unknownIn(expr)).toEqual([]);
  });

  it("matches grpc_code against the names the kit writes", () => {
    const codes = new Set(Array.from({ length: 17 }, (_, i) => codeName(i)));
    for (const { expr } of [...rules, ...panelExprs])
      for (const m of expr.matchAll(/grpc_code=~?"([^"]+)"/g))
        for (const code of (m[1] ?? "").split("|")) expect(codes.has(code), code).toBe(true);
  });

  it("catches a misspelt metric", () => {
    expect(unknownIn("sum(rate(grpc_server_handeld_total[5m]))")).toEqual(["grpc_server_handeld_total"]);
  });
});
