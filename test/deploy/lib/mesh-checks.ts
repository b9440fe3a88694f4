// Cross-checks of mesh/*.yaml against the chart it runs with, the contracts (descriptor image
// and method catalog) and gateway/envoy.yaml. Each returns the problems found.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CatalogMethod } from "../../../mesh/generate.mjs";
import { type K8sObject, parseManifests, ROOT } from "./render.js";

type Any = any;

export interface MeshContext {
  chart: K8sObject[];
  catalog: readonly CatalogMethod[];
  /** Every /package.Service/Method in the descriptor image. */
  descriptorPaths: Set<string>;
  /** gateway/envoy.yaml route timeout (seconds) per upstream cluster (= service). */
  envoyTimeouts: Map<string, number>;
  /** The Istio ingress gateway's service account and pod labels (k8s/values/istio-gateway.yaml). */
  ingress: { namespace: string; serviceAccount: string; labels: Record<string, string> };
}

const HEALTH = new Set(["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"]);
// Plain HTTP paths: admin, JWKS, and the file service's HTTP listener (data plane, tus, health).
const HTTP_PATHS = new Set([
  "/metrics",
  "/livez",
  "/.well-known/jwks.json",
  "/v1/data/*",
  "/v1/tus/*",
  "/v1/tus",
  "/healthz",
]);

/** Every RPC path of gen/filemesh.json (the JSON form of gen/filemesh.binpb). */
export function descriptorPaths(): Set<string> {
  const image = JSON.parse(readFileSync(join(ROOT, "gen", "filemesh.json"), "utf8"));
  const paths = new Set<string>();
  for (const file of image.file ?? [])
    for (const service of file.service ?? [])
      for (const m of service.method ?? []) paths.add(`/${file.package}.${service.name}/${m.name}`);
  return paths;
}

export const seconds = (d: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as "ms" | "s" | "m" | "h"];
};

/** The catch-all route timeout of each cluster in gateway/envoy.yaml. */
export function envoyTimeouts(): Map<string, number> {
  const envoy = parseManifests(readFileSync(join(ROOT, "gateway", "envoy.yaml"), "utf8"))[0] as Any;
  const out = new Map<string, number>();
  for (const l of envoy.static_resources.listeners)
    for (const chain of l.filter_chains)
      for (const f of chain.filters)
        for (const vh of f.typed_config?.route_config?.virtual_hosts ?? [])
          for (const r of vh.routes)
            if (r.match?.prefix?.startsWith("/filemesh.") && r.route?.cluster && r.route.timeout)
              out.set(r.route.cluster, seconds(r.route.timeout));
  return out;
}

export function meshProblems(mesh: K8sObject[], ctx: MeshContext): string[] {
  const p: string[] = [];
  const ns = "filemesh";
  const accounts = new Set(ctx.chart.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name));
  const services = new Map(ctx.chart.filter((o) => o.kind === "Service").map((o) => [o.metadata.name, o]));
  const pods = ctx.chart
    .filter((o) => o.kind === "Deployment")
    .map((d) => d.spec.template.metadata.labels as Record<string, string>);
  const byPath = new Map(ctx.catalog.map((m) => [m.path, m]));
  const principal = (sa: string, n = ns) => `cluster.local/ns/${n}/sa/${sa}`;
  const selects = (sel: Record<string, string> | undefined) =>
    !!sel && pods.some((l) => Object.entries(sel).every(([k, v]) => l[k] === v));

  const checkHost = (where: string, host: string, port?: number) => {
    const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(host);
    const svc = m && m[2] === ns ? services.get(m[1] ?? "") : undefined;
    if (!svc) return p.push(`${where}: host ${host} is not a Service of the chart`);
    if (port !== undefined && !(svc.spec.ports ?? []).some((x: Any) => x.port === port))
      p.push(`${where}: Service ${svc.metadata.name} has no port ${port}`);
  };
  const checkPath = (where: string, path: string) => {
    if (HTTP_PATHS.has(path) || HEALTH.has(path)) return;
    if (!ctx.descriptorPaths.has(path)) p.push(`${where}: ${path} is not a method of the descriptor`);
  };

  const peer = mesh.filter((o) => o.kind === "PeerAuthentication");
  if (!peer.some((o) => !o.spec?.selector && o.spec?.mtls?.mode === "STRICT"))
    p.push("PeerAuthentication: no namespace-wide STRICT mTLS");
  for (const o of peer) {
    for (const [port, v] of Object.entries<Any>(o.spec?.portLevelMtls ?? {})) {
      const admin = [...services.values()].some((s) =>
        (s.spec.ports ?? []).some((x: Any) => x.name === "http-admin" && String(x.port) === port),
      );
      if (v.mode !== "STRICT" && !admin)
        p.push(`PeerAuthentication/${o.metadata.name}: port ${port} is not an admin port`);
    }
  }

  // Authorization: principals are real identities, selectors real pods, paths real methods,
  // and each internal method is allowed to exactly its declared callers.
  const allowed = new Map<string, Set<string>>();
  for (const o of mesh.filter((x) => x.kind === "AuthorizationPolicy")) {
    const where = `AuthorizationPolicy/${o.metadata.name}`;
    if (o.spec?.selector && !selects(o.spec.selector.matchLabels))
      p.push(`${where}: selects no pods of the chart`);
    for (const rule of o.spec?.rules ?? []) {
      const principals: string[] = (rule.from ?? []).flatMap((f: Any) => f.source?.principals ?? []);
      for (const pr of principals) {
        const ok =
          (pr.startsWith(principal("")) && accounts.has(pr.slice(principal("").length))) ||
          pr === principal(ctx.ingress.serviceAccount, ctx.ingress.namespace);
        if (!ok) p.push(`${where}: principal ${pr} is not a service account of the chart or the ingress`);
      }
      for (const to of rule.to ?? []) {
        for (const path of to.operation?.paths ?? []) {
          checkPath(where, path);
          if (!byPath.has(path)) continue;
          const set = allowed.get(path) ?? new Set<string>();
          for (const pr of principals.length ? principals : ["*"]) set.add(pr);
          allowed.set(path, set);
        }
      }
    }
  }
  for (const m of ctx.catalog) {
    const got = [...(allowed.get(m.path) ?? [])].sort();
    if (got.length === 0) p.push(`AuthorizationPolicy: no rule allows ${m.path}`);
    if (m.policy.internalCallers.length > 0) {
      const want = m.policy.internalCallers.map((c) => principal(c)).sort();
      if (JSON.stringify(got) !== JSON.stringify(want))
        p.push(
          `AuthorizationPolicy: ${m.path} is allowed to ${got.join(", ")}; the contract says ${want.join(", ")}`,
        );
    }
  }

  // Routing: hosts are Services, retries only where every matched method is idempotent and
  // its request can be replayed, timeouts within the Envoy gateway's.
  const routed = new Set<string>();
  for (const o of mesh.filter((x) => x.kind === "VirtualService")) {
    const where = `VirtualService/${o.metadata.name}`;
    const edge = (o.spec?.gateways ?? []).length > 0;
    if (!edge) for (const h of o.spec?.hosts ?? []) checkHost(where, h);
    for (const r of o.spec?.http ?? []) {
      const at = `${where} route ${r.name}`;
      for (const d of r.route ?? []) checkHost(at, d.destination?.host, d.destination?.port?.number);
      const paths: string[] = (r.match ?? []).map((x: Any) => x.uri?.exact ?? x.uri?.prefix ?? "");
      for (const path of paths) {
        checkPath(at, path);
        routed.add(path);
      }
      const attempts = r.retries?.attempts;
      if (attempts === undefined) p.push(`${at}: no explicit retries (Istio would retry by default)`);
      if (attempts > 0) {
        if (paths.length === 0) p.push(`${at}: retries a catch-all route`);
        for (const path of paths) {
          const m = byPath.get(path);
          if (!m?.policy.idempotent) p.push(`${at}: retries ${path}, which is not idempotent`);
          else if (m.clientStreaming) p.push(`${at}: retries client-streaming ${path}`);
        }
      }
      const cluster = o.metadata.name;
      const limit = ctx.envoyTimeouts.get(cluster);
      if (!edge && r.timeout && seconds(r.timeout) > 0 && limit !== undefined && seconds(r.timeout) > limit)
        p.push(`${at}: timeout ${r.timeout} exceeds the Envoy gateway's ${limit}s for ${cluster}`);
    }
  }
  for (const m of ctx.catalog)
    if (!m.policy.idempotent && !routed.has(m.path))
      p.push(`VirtualService: ${m.path} (not idempotent) has no explicit no-retry route`);

  for (const o of mesh.filter((x) => x.kind === "DestinationRule")) {
    const where = `DestinationRule/${o.metadata.name}`;
    checkHost(where, o.spec?.host);
    if (o.spec?.trafficPolicy?.tls?.mode !== "ISTIO_MUTUAL") p.push(`${where}: not ISTIO_MUTUAL`);
    if (!o.spec?.trafficPolicy?.outlierDetection) p.push(`${where}: no outlier detection`);
    if (!o.spec?.trafficPolicy?.connectionPool) p.push(`${where}: no connection pool`);
  }
  for (const name of ["auth", "user", "permission", "file", "processor"]) {
    for (const kind of ["DestinationRule", "VirtualService", "AuthorizationPolicy"])
      if (!mesh.some((o) => o.kind === kind && o.metadata.name === name)) p.push(`${kind}: none for ${name}`);
  }

  for (const o of mesh.filter((x) => x.kind === "RequestAuthentication"))
    for (const rule of o.spec?.jwtRules ?? []) {
      const u = new URL(rule.jwksUri);
      checkHost(`RequestAuthentication/${o.metadata.name}`, u.hostname, Number(u.port));
      const issuers = new Set(
        ctx.chart.filter((c) => c.kind === "ConfigMap" && c.data?.JWT_ISSUER).map((c) => c.data.JWT_ISSUER),
      );
      if (!issuers.has(rule.issuer))
        p.push(`RequestAuthentication/${o.metadata.name}: issuer ${rule.issuer} is not the services'`);
    }
  for (const o of mesh.filter((x) => x.kind === "Gateway")) {
    const sel = o.spec?.selector ?? {};
    if (!Object.entries(sel).every(([k, v]) => ctx.ingress.labels[k] === v))
      p.push(`Gateway/${o.metadata.name}: selector does not match the ingress gateway's pods`);
  }
  for (const o of mesh)
    if (o.metadata.namespace !== ns) p.push(`${o.kind}/${o.metadata.name}: not in namespace ${ns}`);
  return p;
}
