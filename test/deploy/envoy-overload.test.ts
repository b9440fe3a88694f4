// The Envoy gateway's effective config: gateway/envoy.yaml merged with the overload manager the
// chart passes with --config-yaml, validated by Envoy's own protos (test/deploy/envoy-overload,
// Go, go-control-plane), and the heap cap kept below the pod's memory limit.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { find, ROOT, renderChart, VALUE_SETS } from "./lib/render.js";

const dir = mkdtempSync(join(tmpdir(), "filemesh-envoy-"));
const checker = join(dir, "envoy-overload");

beforeAll(() => {
  execFileSync("go", ["build", "-o", checker, "."], {
    cwd: join(ROOT, "test", "deploy", "envoy-overload"),
    stdio: "pipe",
    env: { ...process.env, GOFLAGS: "-mod=mod" },
  });
}, 300_000);

/** Runs the checker on envoy.yaml + an overlay; its output and whether it passed. */
function check(overlay: string): { ok: boolean; out: string } {
  const file = join(dir, `overlay-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, overlay);
  const r = spawnSync(checker, [join(ROOT, "gateway", "envoy.yaml"), file], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const bytes = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === "Gi" ? 2 ** 30 : 2 ** 20);
};

describe.each(Object.keys(VALUE_SETS))("Envoy gateway with %s values", (set) => {
  const gateway = find(renderChart(VALUE_SETS[set] ?? []), "Deployment", "gateway");
  const envoy = gateway.spec.template.spec.containers[0];
  const overlay: string = envoy.args[envoy.args.indexOf("--config-yaml") + 1];

  it("merges into a bootstrap that Envoy's protos accept", () => {
    const r = check(overlay);
    expect(r.out).toMatch(/^ok: 4 overload actions, 2 resource monitors/);
    expect(r.ok).toBe(true);
  });

  it("caps the heap below the container's memory limit", () => {
    const heap = JSON.parse(overlay).overload_manager.resource_monitors[0].typed_config.max_heap_size_bytes;
    expect(heap).toBeLessThanOrEqual(0.9 * bytes(envoy.resources.limits.memory));
  });
});

describe("a broken overload config is caught", () => {
  const gateway = find(renderChart([]), "Deployment", "gateway");
  const envoy = gateway.spec.template.spec.containers[0];
  const overlay: string = envoy.args[envoy.args.indexOf("--config-yaml") + 1];

  it("a threshold outside [0, 1]", () => {
    const r = check(overlay.replace('"threshold":{"value":0.98}', '"threshold":{"value":1.5}'));
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/ThresholdTrigger.Value: value must be inside range \[0, 1\]/);
  });

  it("a misspelt extension type", () => {
    const r = check(overlay.replace("FixedHeapConfig", "FixedHeapConfg"));
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/unable to resolve .*FixedHeapConfg/);
  });
});
