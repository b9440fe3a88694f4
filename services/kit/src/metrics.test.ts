// The gRPC server metrics as Prometheus reads them: counts kept as plain numbers per method and
// turned into series when scraped must say what prom-client's own counters and histogram said.
import { methodCatalog } from "@filemesh/contracts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { notFound } from "./errors.js";
import type { CallContext } from "./grpc/context.js";
import { createRegistry, observeMiddleware } from "./metrics.js";

const method = (path: string) => methodCatalog.find((m) => m.path === path)!;
const CHECK = method("/filemesh.permission.v1.PermissionService/Check");
const READ = method("/filemesh.file.v1.FileService/ReadFile");

/** A call context with what the observe middleware reads (its logger only on failures). */
function ctxOf(m: typeof CHECK): CallContext {
  const log = { info() {}, warn() {}, error() {}, debug() {}, isLevelEnabled: () => false };
  return { method: m, log, logs: () => false } as unknown as CallContext;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("gRPC server metrics", () => {
  it("counts started and handled calls by code and their handling time in buckets", async () => {
    const registry = createRegistry("permission");
    const observe = observeMiddleware(registry);
    let clock = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => clock);
    // 0.3 ms, 20 ms, 20 ms and 40 s (above every bound) answered NOT_FOUND; a stream read once.
    const call = (m: typeof CHECK, ms: number, fail = false) =>
      observe(ctxOf(m), async () => {
        clock += ms;
        if (fail) throw notFound("FILE_NOT_FOUND", "no such file");
      }).catch(() => undefined);
    await call(CHECK, 0.3);
    await call(CHECK, 20);
    await call(CHECK, 20);
    await call(CHECK, 40_000, true);
    await call(READ, 3);
    const text = await registry.metrics();
    const line = (name: string, labels: string) => {
      const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const check =
      'grpc_service="filemesh.permission.v1.PermissionService",grpc_method="Check",grpc_type="unary"';
    const svc = 'service="permission"';
    expect(text).toContain("# TYPE grpc_server_started_total counter");
    expect(text).toContain("# TYPE grpc_server_handling_seconds histogram");
    expect(line("grpc_server_started_total", `${check},${svc}`)).toBe(4);
    expect(line("grpc_server_handled_total", `${check},grpc_code="OK",${svc}`)).toBe(3);
    expect(line("grpc_server_handled_total", `${check},grpc_code="NOT_FOUND",${svc}`)).toBe(1);
    expect(text).not.toMatch(/grpc_method="Check"[^}]*grpc_code="INTERNAL"/);
    const bucket = (le: string) =>
      line("grpc_server_handling_seconds_bucket", `${check},le="${le.replace("+", "\\+")}",${svc}`);
    expect([bucket("0.0005"), bucket("0.01"), bucket("0.025"), bucket("30"), bucket("+Inf")]).toEqual([
      1, 1, 3, 3, 4,
    ]);
    expect(line("grpc_server_handling_seconds_sum", `${check},${svc}`)).toBeCloseTo(40.0403, 6);
    expect(line("grpc_server_handling_seconds_count", `${check},${svc}`)).toBe(4);
    const read =
      'grpc_service="filemesh.file.v1.FileService",grpc_method="ReadFile",grpc_type="server_stream"';
    expect(line("grpc_server_handled_total", `${read},grpc_code="OK",${svc}`)).toBe(1);
    expect(line("grpc_server_handling_seconds_bucket", `${read},le="0.0025",${svc}`)).toBe(0);
    expect(line("grpc_server_handling_seconds_bucket", `${read},le="0.005",${svc}`)).toBe(1);
    // JSON (what a cluster aggregator reads) says the same.
    const json = await registry.getMetricsAsJSON();
    const handled = json.find((m) => m.name === "grpc_server_handled_total")!;
    expect(handled.type).toBe("counter");
    expect(handled.values.map((v) => [v.labels.grpc_method, v.labels.grpc_code, v.value])).toEqual([
      ["Check", "OK", 3],
      ["Check", "NOT_FOUND", 1],
      ["ReadFile", "OK", 1],
    ]);
    // A reset starts every count again; a method never called has no series.
    registry.resetMetrics();
    expect(line("grpc_server_started_total", `${check},${svc}`)).toBe(4); // the text read before
    const after = await registry.metrics();
    expect(after).not.toContain('grpc_method="Check"');
    expect(after).not.toContain('grpc_method="CheckBatch"');
  });
});
