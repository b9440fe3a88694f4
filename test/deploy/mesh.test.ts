// mesh/*.yaml: generated from the contracts and committed (stale → fail), valid against
// Istio's schemas, and consistent with the chart, the descriptor and gateway/envoy.yaml.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CatalogMethod, generateMesh, MESH, renderMesh } from "../../mesh/generate.mjs";
import { descriptorPaths, envoyTimeouts, type MeshContext, meshProblems } from "./lib/mesh-checks.js";
import {
  clone,
  find,
  type K8sObject,
  loadMesh,
  ROOT,
  readYaml,
  renderChart,
  VALUE_SETS,
} from "./lib/render.js";
import { schemaProblems, unknownFieldProblems } from "./lib/schemas.js";

const catalog: CatalogMethod[] = JSON.parse(readFileSync(join(ROOT, "gen", "methods.json"), "utf8"));
let mesh: K8sObject[] = [];
let ctx: MeshContext;

beforeAll(() => {
  mesh = loadMesh().map(({ file: _, ...o }) => o as K8sObject);
  const ingress = readYaml(join(ROOT, "k8s", "values", "istio-gateway.yaml")) as any;
  ctx = {
    chart: renderChart(VALUE_SETS.production ?? []),
    catalog,
    descriptorPaths: descriptorPaths(),
    envoyTimeouts: envoyTimeouts(),
    ingress: {
      namespace: MESH.ingress.namespace,
      serviceAccount: ingress.serviceAccount.name,
      labels: ingress.labels,
    },
  };
});

describe("mesh/", () => {
  it("is what mesh/generate.mjs makes from the current contracts (run it after changing a policy)", () => {
    const files = renderMesh(catalog);
    for (const [file, text] of Object.entries(files)) {
      expect(
        readFileSync(join(ROOT, "mesh", file), "utf8"),
        `mesh/${file} is stale: node mesh/generate.mjs`,
      ).toBe(text);
    }
  });

  it("validates against Istio's schemas", () => {
    expect(schemaProblems(mesh)).toEqual([]);
    expect(unknownFieldProblems(mesh)).toEqual([]);
  });

  it("is consistent with the chart, the descriptor and the Envoy gateway", () => {
    expect(meshProblems(mesh, ctx)).toEqual([]);
  });

  it("lets only the file and user services call WriteRelations", () => {
    const policy = find(mesh, "AuthorizationPolicy", "permission");
    const rules = policy.spec.rules.filter((r: { to: { operation: { paths?: string[] } }[] }) =>
      r.to.some((t) =>
        t.operation.paths?.includes("/filemesh.permission.v1.PermissionService/WriteRelations"),
      ),
    );
    expect(
      rules.map((r: { from: { source: { principals: string[] } }[] }) => r.from[0]?.source.principals),
    ).toEqual([["cluster.local/ns/filemesh/sa/file", "cluster.local/ns/filemesh/sa/user"]]);
  });

  it("retries Login never and GetFile on transient failures", () => {
    const routes = (svc: string) => find(mesh, "VirtualService", svc).spec.http;
    type Route = { match?: { uri: { exact: string } }[]; retries: { attempts: number; retryOn?: string } };
    const routeOf = (svc: string, path: string) =>
      routes(svc).find((r: Route) => r.match?.some((m) => m.uri.exact === path)) as Route;
    expect(routeOf("auth", "/filemesh.auth.v1.AuthService/Login").retries).toEqual({ attempts: 0 });
    expect(routeOf("file", "/filemesh.file.v1.FileService/GetFile").retries.attempts).toBe(2);
    expect(routeOf("file", "/filemesh.file.v1.FileService/UploadPart").retries).toEqual({ attempts: 0 });
  });
});

describe("broken mesh edits are caught", () => {
  const edited = (edit: (m: K8sObject[]) => void) => {
    const m = clone(mesh);
    edit(m);
    return meshProblems(m, ctx).join("\n");
  };

  it("a policy change in the contracts makes the committed YAML stale", () => {
    const changed = clone(catalog);
    const login = changed.find((m) => m.path === "/filemesh.auth.v1.AuthService/Login");
    if (!login) throw new Error("no Login");
    login.policy.idempotent = true;
    expect(renderMesh(changed)["virtual-services.yaml"]).not.toBe(
      readFileSync(join(ROOT, "mesh", "virtual-services.yaml"), "utf8"),
    );
  });

  it("a hand-made retry on a non-idempotent method", () => {
    const out = edited((m) => {
      const auth = find(m, "VirtualService", "auth");
      const noRetry = auth.spec.http.find((r: { name: string }) => r.name === "unary-no-retry");
      noRetry.retries = { attempts: 3, retryOn: "unavailable" };
    });
    expect(out).toMatch(/retries \/filemesh\.auth\.v1\.AuthService\/Login, which is not idempotent/);
  });

  it("a route without explicit retries (Istio's default would retry it)", () => {
    const out = edited((m) => delete find(m, "VirtualService", "file").spec.http.at(-1).retries);
    expect(out).toMatch(/route default: no explicit retries/);
  });

  it("an extra caller of an internal method", () => {
    const out = edited((m) => {
      const rule = find(m, "AuthorizationPolicy", "permission").spec.rules.find(
        (r: { to: { operation: { paths?: string[] } }[] }) =>
          r.to[0]?.operation.paths?.includes("/filemesh.permission.v1.PermissionService/WriteRelations"),
      );
      rule.from[0].source.principals.push("cluster.local/ns/filemesh/sa/processor");
    });
    expect(out).toMatch(/WriteRelations is allowed to .*processor.*; the contract says/);
  });

  it("a principal that names no service account", () => {
    const out = edited((m) => {
      find(m, "AuthorizationPolicy", "auth").spec.rules[0].from[0].source.principals.push(
        "cluster.local/ns/filemesh/sa/auth-service",
      );
    });
    expect(out).toMatch(/principal cluster\.local\/ns\/filemesh\/sa\/auth-service is not a service account/);
  });

  it("a method path that is not in the descriptor", () => {
    const out = edited((m) => {
      find(m, "VirtualService", "auth").spec.http[0].match.push({
        uri: { exact: "/filemesh.auth.v1.AuthService/LogIn" },
      });
    });
    expect(out).toMatch(/\/filemesh\.auth\.v1\.AuthService\/LogIn is not a method of the descriptor/);
  });

  it("a timeout longer than the Envoy gateway's", () => {
    const out = edited((m) => {
      find(m, "VirtualService", "permission").spec.http[0].timeout = "30s";
    });
    expect(out).toMatch(/timeout 30s exceeds the Envoy gateway's 5s for permission/);
  });

  it("a destination that is not a Service port", () => {
    const out = edited((m) => {
      find(m, "DestinationRule", "user").spec.host = "users.filemesh.svc.cluster.local";
    });
    expect(out).toMatch(/host users\.filemesh\.svc\.cluster\.local is not a Service of the chart/);
  });

  it("an internal caller that is not a service is refused by the generator", () => {
    const changed = clone(catalog);
    changed[0]?.policy.internalCallers.push("billing");
    expect(() => generateMesh(changed)).toThrow(/internal caller "billing" is not a service/);
  });

  it("a service caller that is not a service (the gateway) is refused by the generator", () => {
    const changed = clone(catalog);
    const check = changed.find((x) => x.path === "/filemesh.permission.v1.PermissionService/Check");
    expect(check?.policy.serviceCallers).toEqual(["file"]);
    check?.policy.serviceCallers.push("gateway");
    expect(() => generateMesh(changed)).toThrow(/service caller "gateway" is not a service/);
  });
});
