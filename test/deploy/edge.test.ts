// The edge in a cluster (issue 12): services reached through the Envoy gateway take the client
// address from the one X-Forwarded-For entry the gateway writes (TRUST_FORWARDED_FOR,
// TRUSTED_PROXY_HOPS=1), accept internal callers only from their own trust domain and
// namespace, the Envoy gateway trusts as many X-Forwarded-For hops as there are proxies in
// front of it, the Istio ingress gateway sanitises client certificates, and Istio's access
// logs print no path (a share link's token) and no credential header.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAuthConfig } from "../../services/auth/src/config.js";
import { find, ROOT, readYaml, renderChart, templateResult, VALUE_SETS } from "./lib/render.js";

const SERVICES = ["auth", "user", "permission", "file", "processor"];
const sets: [string, string[], string[]][] = [
  ["default", VALUE_SETS.default ?? [], []],
  ["production", VALUE_SETS.production ?? [], []],
  ["mesh-less with TLS", [], ["mesh.enabled=false", "tls.enabled=true"]],
];

describe.each(sets)("service client address and caller identity (%s values)", (_, files, set) => {
  const objects = renderChart(files, { set });
  const mesh = !set.includes("mesh.enabled=false");

  it.each(SERVICES)("%s trusts the one X-Forwarded-For entry the Envoy gateway writes", (name) => {
    const env = find(objects, "ConfigMap", `${name}-config`).data;
    expect(env.TRUST_FORWARDED_FOR).toBe("true");
    expect(env.TRUSTED_PROXY_HOPS).toBe("1");
  });

  it.each(SERVICES)("%s takes internal callers only from the mesh's trust domain and namespace", (name) => {
    const env = find(objects, "ConfigMap", `${name}-config`).data;
    if (mesh) {
      expect(env.INTERNAL_AUTH).toBe("xfcc");
      expect(env.MESH_TRUST_DOMAIN).toBe("cluster.local");
      expect(env.MESH_NAMESPACE).toBe("filemesh");
    } else {
      expect(env.INTERNAL_AUTH).toBe("token");
    }
  });

  it("the auth service reads them as meant", () => {
    // The edge's variables only (service-env.test.ts parses the whole environment).
    const cm = find(objects, "ConfigMap", "auth-config").data as Record<string, string>;
    const edge = Object.fromEntries(
      Object.entries(cm).filter(([k]) =>
        /^(TRUST_FORWARDED_FOR|TRUSTED_PROXY_HOPS|MESH_|INTERNAL_AUTH)/.test(k),
      ),
    );
    const config = loadAuthConfig({
      ...edge,
      PASSWORD_PEPPER: "p".repeat(40),
      JWT_KEYS_DIR: cm.JWT_KEYS_DIR ?? "/etc/filemesh/jwt-keys",
      ...(mesh ? {} : { INTERNAL_TOKEN: "t".repeat(32) }),
    });
    expect(config.trustForwardedFor).toBe(true);
    expect(config.trustedProxyHops).toBe(1);
    if (mesh) expect([config.meshTrustDomain, config.meshNamespace]).toEqual(["cluster.local", "filemesh"]);
  });
});

describe("the Envoy gateway's trusted X-Forwarded-For hops", () => {
  const envoyOf = (set: string[]) =>
    find(renderChart([], { set }), "ConfigMap", "gateway-envoy").data["envoy.yaml"] as string;

  it("is one by default (the Istio ingress gateway), and follows gateway.xffNumTrustedHops", () => {
    expect(envoyOf([])).toMatch(/^ +xff_num_trusted_hops: 1$/m);
    const two = envoyOf(["gateway.xffNumTrustedHops=2"]);
    expect(two).toMatch(/^ +xff_num_trusted_hops: 2$/m);
    expect(two.replace("xff_num_trusted_hops: 2", "xff_num_trusted_hops: 1")).toBe(envoyOf([]));
  });

  it("refuses 0 (every client would be the ingress gateway) through values.schema.json", () => {
    const r = templateResult([], { set: ["gateway.xffNumTrustedHops=0"] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/xffNumTrustedHops/);
  });
});

describe("Istio at the edge", () => {
  it("the ingress gateway sanitises a client's x-forwarded-client-cert", () => {
    const values = readYaml(join(ROOT, "k8s", "values", "istio-gateway.yaml")) as any;
    const annotation: string = values.podAnnotations?.["proxy.istio.io/config"] ?? "";
    expect(annotation).toMatch(/forwardClientCertDetails: (SANITIZE|SANITIZE_SET)\b/);
    expect(annotation).toMatch(/numTrustedProxies: 0\b/);
  });

  it("the mesh's access logs print no path or query and no credential header", () => {
    const values = readYaml(join(ROOT, "k8s", "values", "istiod.yaml")) as any;
    expect(values.meshConfig.accessLogEncoding).toBe("JSON");
    const format = JSON.parse(values.meshConfig.accessLogFormat) as Record<string, string>;
    const operators = Object.values(format).join(" ").toUpperCase();
    expect(operators).toContain("%RESPONSE_CODE%");
    expect(operators).not.toMatch(/PATH/);
    for (const h of ["AUTHORIZATION", "X-LINK-PASSWORD", "COOKIE", "X-FILEMESH-INTERNAL-TOKEN"]) {
      expect(operators).not.toContain(h);
    }
  });
});
