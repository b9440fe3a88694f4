// The Helm chart (k8s/filemesh): helm lint and helm template for the default and production
// values, every object against the Kubernetes / Prometheus Operator schemas (and strict
// field names), cross-checks, and broken edits that each check must catch.
import { beforeAll, describe, expect, it } from "vitest";
import { NODE_ARGS } from "../../scripts/lib/mesh.mjs";
import { chartProblems, SERVICES } from "./lib/chart-checks.js";
import {
  CHART,
  clone,
  find,
  helm,
  type K8sObject,
  KUBE_VERSION,
  NAMESPACE,
  readYaml,
  renderChart,
  templateResult,
  VALUE_SETS,
  valuesFile,
} from "./lib/render.js";
import { schemaProblems, unknownFieldProblems } from "./lib/schemas.js";

const rendered: Record<string, K8sObject[]> = {};
/** One type-check (a few seconds) for every set plus a deliberately misspelt copy of auth. */
let strictProblems: string[] = [];

beforeAll(() => {
  for (const [name, files] of Object.entries(VALUE_SETS)) rendered[name] = renderChart(files);
  const misspelt = clone(find(rendered.default ?? [], "Deployment", "auth"));
  misspelt.metadata.name = "auth-misspelt";
  const c = misspelt.spec.template.spec.containers[0];
  c.readinessprobe = c.readinessProbe;
  delete c.readinessProbe;
  strictProblems = unknownFieldProblems([...Object.values(rendered).flat(), misspelt]);
});

describe.each(Object.keys(VALUE_SETS))("chart with %s values", (set) => {
  const objects = () => rendered[set] ?? [];

  it("passes helm lint --strict", () => {
    const args = ["lint", CHART, "--strict", "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION];
    for (const f of VALUE_SETS[set] ?? []) args.push("-f", f);
    const r = helm(args);
    expect(r.stderr + r.stdout).toContain("0 chart(s) failed");
    expect(r.status).toBe(0);
  });

  it("renders every workload", () => {
    const names = (kind: string) =>
      objects()
        .filter((o) => o.kind === kind)
        .map((o) => o.metadata.name)
        .sort();
    expect(names("Deployment")).toEqual([...SERVICES, "gateway", "pgbouncer"].sort());
    for (const kind of ["Service", "ServiceAccount", "PodDisruptionBudget"])
      expect(names(kind)).toEqual([...SERVICES, "gateway", "pgbouncer"].sort());
    expect(names("HorizontalPodAutoscaler")).toEqual([...SERVICES, "gateway"].sort());
    expect(names("ConfigMap")).toEqual(
      expect.arrayContaining([
        ...SERVICES.map((s) => `${s}-config`),
        "gateway-envoy",
        "gateway-descriptor",
        "pgbouncer",
      ]),
    );
    for (const o of objects()) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
  });

  it("validates against the Kubernetes, Istio and Prometheus Operator schemas", () => {
    expect(schemaProblems(objects())).toEqual([]);
  });

  it("uses only fields the schemas know", () => {
    const names = new Set(objects().map((o) => `${o.kind}/${o.metadata.name} `));
    expect(strictProblems.filter((p) => names.has(p.split("(")[0] ?? ""))).toEqual([]);
  });

  it("passes the cross-checks (hardening, gRPC probes, named ports, references)", () => {
    expect(chartProblems(objects())).toEqual([]);
  });
});

describe("chart defaults", () => {
  it("scales each service between 5 and 50 replicas", () => {
    for (const s of SERVICES) {
      const hpa = find(rendered.default ?? [], "HorizontalPodAutoscaler", s);
      expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([5, 50]);
    }
  });

  it("gives Services a cluster IP with the mesh and makes them headless without it", () => {
    expect(find(rendered.default ?? [], "Service", "auth").spec.clusterIP).toBeUndefined();
    const meshless = renderChart([], { set: ["mesh.enabled=false"] });
    for (const s of SERVICES) expect(find(meshless, "Service", s).spec.clusterIP).toBe("None");
    expect(find(meshless, "ConfigMap", "auth-config").data.INTERNAL_AUTH).toBe("token");
    expect(find(rendered.default ?? [], "ConfigMap", "auth-config").data.INTERNAL_AUTH).toBe("xfcc");
  });

  it("ships gen/filemesh.binpb and gateway/envoy.yaml unchanged to the Envoy gateway", async () => {
    const { readFileSync } = await import("node:fs");
    const objects = rendered.default ?? [];
    const descriptor = Buffer.from(
      find(objects, "ConfigMap", "gateway-descriptor").binaryData["filemesh.binpb"],
      "base64",
    );
    expect(descriptor.equals(readFileSync(new URL("../../gen/filemesh.binpb", import.meta.url)))).toBe(true);
    expect(find(objects, "ConfigMap", "gateway-envoy").data["envoy.yaml"]).toBe(
      readFileSync(new URL("../../gateway/envoy.yaml", import.meta.url), "utf8"),
    );
  });

  it("sends the services' queries through PgBouncer, reads to the replica when there is one", () => {
    const cm = find(rendered.production ?? [], "ConfigMap", "file-config").data;
    expect(cm.DATABASE_URL).toBe(
      "postgres://filemesh_file@pgbouncer.filemesh.svc.cluster.local:6432/filemesh",
    );
    expect(cm.DATABASE_READ_URL).toBe(
      "postgres://filemesh_file@pgbouncer.filemesh.svc.cluster.local:6432/filemesh_ro",
    );
    const ini = find(rendered.production ?? [], "ConfigMap", "pgbouncer").data["pgbouncer.ini"];
    expect(ini).toMatch(/^pool_mode = transaction$/m);
    expect(ini).toMatch(/^filemesh_ro = host=filemesh-pg-ro\.postgres\.svc\.cluster\.local /m);
    expect(find(rendered.default ?? [], "ConfigMap", "file-config").data.DATABASE_READ_URL).toBeUndefined();
  });

  it("starts each service with the V8 flags npm start gives it (the file service's young generation)", () => {
    for (const set of Object.keys(VALUE_SETS)) {
      for (const name of SERVICES) {
        const args = find(rendered[set] ?? [], "Deployment", name).spec.template.spec.containers[0].args;
        expect(args, `${set}/${name}`).toEqual([...(NODE_ARGS[name] ?? []), `dist/${name}.js`]);
      }
    }
    expect(NODE_ARGS.file).toEqual(["--max-semi-space-size=64"]);
  });
});

describe("broken edits are caught", () => {
  const base = () => clone(rendered.default ?? []);
  const auth = (objects: K8sObject[]) => find(objects, "Deployment", "auth");
  const container = (objects: K8sObject[]) => auth(objects).spec.template.spec.containers[0];

  const cases: [string, (o: K8sObject[]) => void, RegExp][] = [
    ["a readiness probe removed", (o) => delete container(o).readinessProbe, /auth\/auth: no readinessProbe/],
    [
      "a liveness probe over HTTP instead of gRPC",
      (o) => {
        container(o).livenessProbe = { httpGet: { path: "/livez", port: "http-admin" } };
      },
      /livenessProbe is not a native gRPC probe/,
    ],
    [
      "the grpc port renamed",
      (o) => {
        container(o).ports[0].name = "rpc";
      },
      /has no port named grpc/,
    ],
    [
      "a service account that is not rendered",
      (o) => {
        auth(o).spec.template.spec.serviceAccountName = "default";
      },
      /service account default is not rendered/,
    ],
    [
      "root allowed",
      (o) => {
        auth(o).spec.template.spec.securityContext.runAsNonRoot = false;
      },
      /runAsNonRoot is not set/,
    ],
    [
      "a writable root filesystem",
      (o) => {
        container(o).securityContext.readOnlyRootFilesystem = false;
      },
      /root filesystem is not read-only/,
    ],
    [
      "a peer address that no Service serves",
      (o) => {
        find(o, "ConfigMap", "user-config").data.PERMISSION_ADDRS =
          "permission.filemesh.svc.cluster.local:9999";
      },
      /PERMISSION_ADDRS=.* is not a rendered Service port/,
    ],
    [
      "a Service port without a name",
      (o) => {
        delete find(o, "Service", "file").spec.ports[0].name;
      },
      /Service\/file: port 50054 has no name/,
    ],
  ];
  it.each(cases)("%s", (_, edit, expected) => {
    const objects = base();
    edit(objects);
    expect(chartProblems(objects).join("\n")).toMatch(expected);
  });

  it("a field of the wrong type fails the schema", () => {
    const objects = base();
    container(objects).ports[0].containerPort = "50051";
    expect(schemaProblems(objects).join("\n")).toMatch(/Deployment\/auth.*containerPort must be integer/);
  });

  it("a misspelt field fails the strict field check", () => {
    expect(strictProblems).toEqual([
      expect.stringMatching(/^Deployment\/auth-misspelt .*'"readinessprobe"' does not exist/),
    ]);
  });

  it("an unknown values key fails values.schema.json", () => {
    const r = templateResult([valuesFile({ services: { auth: { replicas: 3 } } })]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/additional properties 'replicas' not allowed/);
  });

  it("a production values file with min replicas above max fails", () => {
    const values = readYaml(VALUE_SETS.production?.[0] ?? "") as any;
    values.services.auth.autoscaling.minReplicas = 80;
    const r = templateResult([valuesFile(values)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/minReplicas 80 > maxReplicas 50/);
  });

  it("installing into another namespace fails", () => {
    const r = templateResult([], { namespace: "default" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/must be installed into namespace "filemesh"/);
  });
});
