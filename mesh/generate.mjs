// Generates the Istio resources in mesh/*.yaml from the method catalog (gen/methods.json, built
// from each RPC's filemesh.options.v1.policy by `npm run generate`), so retries and callers are
// declared once, in the contracts:
//  - VirtualServices retry only methods marked idempotent (unary, or server-streaming before
//    the first response); every other route sets attempts: 0 (Istio retries by default);
//  - AuthorizationPolicies let an internal method (internal_callers) be called only by those
//    services' identities, and every other method by the gateway and the mesh's services.
// The output is committed; test/deploy/mesh.test.ts fails when it is stale.
//   node mesh/generate.mjs           write mesh/*.yaml
//   node mesh/generate.mjs --check   exit 1 if mesh/*.yaml differ from what would be written
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

/** Deployment facts the catalog does not hold. Names match the Helm chart (k8s/filemesh). */
export const MESH = {
  namespace: "filemesh",
  trustDomain: "cluster.local",
  // Ports as in the chart; timeouts never above gateway/envoy.yaml's route timeouts (tested).
  services: {
    auth: { port: 50051, timeout: "10s", perTryTimeout: "5s" },
    user: { port: 50052, timeout: "15s", perTryTimeout: "5s" },
    permission: { port: 50053, timeout: "5s", perTryTimeout: "2s" },
    file: { port: 50054, timeout: "30s", perTryTimeout: "10s" },
    processor: { port: 50055, timeout: "60s", perTryTimeout: "30s" },
  },
  adminPortOffset: 1000,
  gateway: { name: "gateway", port: 8080 },
  pgbouncer: { name: "pgbouncer", port: 6432 },
  ingress: {
    namespace: "istio-ingress",
    serviceAccount: "istio-ingressgateway",
    selector: { istio: "ingressgateway" },
    hosts: ["api.filemesh.example"],
    credentialName: "filemesh-api-tls",
  },
  jwt: { issuer: "filemesh", audiences: ["filemesh"], jwksPath: "/.well-known/jwks.json" },
  // Namespaces the sidecars need routes to (Redis, NATS, Postgres; k8s/values/*.yaml).
  egressNamespaces: ["istio-system", "redis", "nats", "postgres", "observability"],
  retryOn: "connect-failure,refused-stream,unavailable,reset",
  retryAttempts: 2,
};

const HEALTH_PATHS = ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"];

const fqdn = (name, m) => `${name}.${m.namespace}.svc.cluster.local`;
const principal = (sa, m, ns = m.namespace) => `${m.trustDomain}/ns/${ns}/sa/${sa}`;
const meta = (name, m, namespace = m.namespace) => ({
  name,
  namespace,
  labels: { "app.kubernetes.io/part-of": "filemesh", "app.kubernetes.io/managed-by": "mesh-generate" },
});
const selectorOf = (name) => ({
  matchLabels: { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "filemesh" },
});
const exact = (paths) => paths.map((p) => ({ uri: { exact: p } }));

/** How the mesh treats a method: the route it belongs to. */
export function routeKind(method) {
  const streaming = method.clientStreaming || method.serverStreaming;
  if (!method.policy.idempotent) return streaming ? "streaming-no-retry" : "unary-no-retry";
  if (method.clientStreaming) return "streaming-no-retry"; // the body cannot be replayed
  return method.serverStreaming ? "idempotent-server-streaming" : "idempotent-unary";
}

function virtualService(name, methods, m) {
  const svc = m.services[name];
  const noRetry = { attempts: 0 };
  const byKind = (kind) => methods.filter((x) => routeKind(x) === kind).map((x) => x.path);
  const routes = [
    {
      name: "idempotent-unary",
      paths: byKind("idempotent-unary"),
      timeout: svc.timeout,
      retries: { attempts: m.retryAttempts, perTryTimeout: svc.perTryTimeout, retryOn: m.retryOn },
    },
    {
      // Retried only before the first response message (Envoy never retries after headers).
      name: "idempotent-server-streaming",
      paths: byKind("idempotent-server-streaming"),
      timeout: "0s",
      retries: { attempts: m.retryAttempts, retryOn: m.retryOn },
    },
    { name: "streaming-no-retry", paths: byKind("streaming-no-retry"), timeout: "0s", retries: noRetry },
    { name: "unary-no-retry", paths: byKind("unary-no-retry"), timeout: svc.timeout, retries: noRetry },
  ];
  const destination = { destination: { host: fqdn(name, m), port: { number: svc.port } } };
  const http = routes
    .filter((r) => r.paths.length > 0)
    .map((r) => ({
      name: r.name,
      match: exact(r.paths),
      route: [destination],
      timeout: r.timeout,
      retries: r.retries,
    }));
  // Health, reflection and anything new: no retries.
  http.push({ name: "default", route: [destination], timeout: svc.timeout, retries: noRetry });
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: meta(name, m),
    spec: { hosts: [fqdn(name, m)], exportTo: ["."], http },
  };
}

function destinationRule(name, m) {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: meta(name, m),
    spec: {
      host: fqdn(name, m),
      exportTo: ["."],
      trafficPolicy: {
        tls: { mode: "ISTIO_MUTUAL" },
        loadBalancer: { simple: "LEAST_REQUEST" },
        connectionPool: {
          tcp: {
            maxConnections: 10000,
            connectTimeout: "2s",
            tcpKeepalive: { time: "300s", interval: "30s" },
          },
          http: {
            http2MaxRequests: 10000,
            maxRequestsPerConnection: 0,
            maxRetries: 100,
            idleTimeout: "300s",
          },
        },
        outlierDetection: {
          consecutiveGatewayErrors: 5,
          consecutive5xxErrors: 10,
          interval: "10s",
          baseEjectionTime: "30s",
          maxEjectionPercent: 50,
        },
      },
    },
  };
}

function serviceAuthorization(name, methods, m) {
  const services = Object.keys(m.services);
  const anyCaller = [m.gateway.name, ...services].map((sa) => principal(sa, m));
  const rules = [];
  const internal = new Map();
  const open = [];
  for (const x of methods) {
    const callers = x.policy.internalCallers;
    if (callers.length === 0) {
      open.push(x.path);
      continue;
    }
    const key = [...callers].sort().join(",");
    internal.set(key, [...(internal.get(key) ?? []), x.path]);
  }
  for (const [key, paths] of [...internal].sort(([a], [b]) => a.localeCompare(b))) {
    rules.push({
      from: [{ source: { principals: key.split(",").map((sa) => principal(sa, m)) } }],
      to: [{ operation: { paths } }],
    });
  }
  if (open.length > 0) {
    rules.push({ from: [{ source: { principals: anyCaller } }], to: [{ operation: { paths: open } }] });
  }
  // The Envoy gateway's active health checks.
  rules.push({
    from: [{ source: { principals: [principal(m.gateway.name, m)] } }],
    to: [{ operation: { paths: HEALTH_PATHS } }],
  });
  // The file service's plain HTTP listener (FILE_HTTP_PORT = gRPC port + 2000): the data plane's
  // /v1/data/{ticket} (authorised by the ticket itself) and tus, from the gateway only.
  if (name === "file") {
    rules.push({
      from: [{ source: { principals: [principal(m.gateway.name, m)] } }],
      to: [
        {
          operation: {
            ports: [String(m.services[name].port + 2000)],
            paths: ["/v1/data/*", "/v1/tus/*", "/v1/tus", "/healthz"],
          },
        },
      ],
    });
  }
  // Prometheus (outside the mesh, plaintext on the admin port: see peer-authentication.yaml).
  rules.push({
    to: [
      {
        operation: {
          ports: [String(m.services[name].port + m.adminPortOffset)],
          methods: ["GET"],
          paths: ["/metrics", "/livez"],
        },
      },
    ],
  });
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: meta(name, m),
    spec: { selector: selectorOf(name), action: "ALLOW", rules },
  };
}

/** Every Istio object, by output file (one file per purpose). */
export function generateMesh(catalog, m = MESH) {
  const names = Object.keys(m.services);
  const unknown = [...new Set(catalog.map((x) => x.serviceName))].filter((s) => !names.includes(s));
  if (unknown.length) throw new Error(`catalog services without mesh settings: ${unknown.join(", ")}`);
  for (const x of catalog) {
    for (const c of x.policy.internalCallers) {
      if (!names.includes(c)) throw new Error(`${x.path}: internal caller "${c}" is not a service`);
    }
    // Service callers reach open methods, which every service may call already; a name that is
    // not a service (the gateway forwards anonymous calls under its own identity) would be a hole.
    for (const c of x.policy.serviceCallers) {
      if (!names.includes(c)) throw new Error(`${x.path}: service caller "${c}" is not a service`);
    }
  }
  const methodsOf = (name) => catalog.filter((x) => x.serviceName === name);
  const allServiceSAs = names.map((sa) => principal(sa, m));
  return {
    "peer-authentication.yaml": [
      {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: meta("default", m),
        spec: { mtls: { mode: "STRICT" } },
      },
      // Prometheus scrapes the admin port from outside the mesh; everything else stays STRICT.
      ...names.map((name) => ({
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: meta(`${name}-metrics`, m),
        spec: {
          selector: selectorOf(name),
          mtls: { mode: "STRICT" },
          portLevelMtls: { [m.services[name].port + m.adminPortOffset]: { mode: "PERMISSIVE" } },
        },
      })),
    ],
    "destination-rules.yaml": [...names, m.gateway.name].map((name) => destinationRule(name, m)),
    "virtual-services.yaml": names.map((name) => virtualService(name, methodsOf(name), m)),
    "authorization-policies.yaml": [
      // Nothing is allowed unless a policy below allows it.
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta("deny-by-default", m),
        spec: {},
      },
      ...names.map((name) => serviceAuthorization(name, methodsOf(name), m)),
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta(m.gateway.name, m),
        spec: {
          selector: selectorOf(m.gateway.name),
          action: "ALLOW",
          rules: [
            {
              from: [
                { source: { principals: [principal(m.ingress.serviceAccount, m, m.ingress.namespace)] } },
              ],
              to: [{ operation: { ports: [String(m.gateway.port)] } }],
            },
            // Sidecars fetch the JWKS for request-authentication.yaml (PILOT_JWT_ENABLE_REMOTE_JWKS=envoy).
            {
              from: [{ source: { principals: [principal(m.gateway.name, m), ...allServiceSAs] } }],
              to: [
                { operation: { ports: [String(m.gateway.port)], methods: ["GET"], paths: [m.jwt.jwksPath] } },
              ],
            },
          ],
        },
      },
      {
        apiVersion: "security.istio.io/v1",
        kind: "AuthorizationPolicy",
        metadata: meta(m.pgbouncer.name, m),
        spec: {
          selector: selectorOf(m.pgbouncer.name),
          action: "ALLOW",
          rules: [
            {
              from: [{ source: { principals: allServiceSAs } }],
              to: [{ operation: { ports: [String(m.pgbouncer.port)] } }],
            },
          ],
        },
      },
    ],
    "request-authentication.yaml": [
      {
        apiVersion: "security.istio.io/v1",
        kind: "RequestAuthentication",
        metadata: meta("filemesh-jwt", m),
        spec: {
          jwtRules: [
            {
              issuer: m.jwt.issuer,
              audiences: m.jwt.audiences,
              jwksUri: `http://${fqdn(m.gateway.name, m)}:${m.gateway.port}${m.jwt.jwksPath}`,
              forwardOriginalToken: true,
            },
          ],
        },
      },
    ],
    "ingress-gateway.yaml": [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Gateway",
        metadata: meta("filemesh", m),
        spec: {
          selector: m.ingress.selector,
          servers: [
            {
              port: { number: 443, name: "https", protocol: "HTTPS" },
              hosts: m.ingress.hosts,
              tls: {
                mode: "SIMPLE",
                credentialName: m.ingress.credentialName,
                minProtocolVersion: "TLSV1_2",
              },
            },
            {
              port: { number: 80, name: "http", protocol: "HTTP" },
              hosts: m.ingress.hosts,
              tls: { httpsRedirect: true },
            },
          ],
        },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: meta("filemesh-edge", m),
        spec: {
          hosts: m.ingress.hosts,
          gateways: ["filemesh"],
          http: [
            {
              name: "envoy-gateway",
              route: [{ destination: { host: fqdn(m.gateway.name, m), port: { number: m.gateway.port } } }],
              // The Envoy gateway times each route itself (streams have none); one retry layer only.
              timeout: "0s",
              retries: { attempts: 0 },
            },
          ],
        },
      },
    ],
    "sidecar.yaml": [
      {
        apiVersion: "networking.istio.io/v1",
        kind: "Sidecar",
        metadata: meta("default", m),
        spec: {
          egress: [{ hosts: ["./*", ...m.egressNamespaces.map((ns) => `${ns}/*`)] }],
          outboundTrafficPolicy: { mode: "ALLOW_ANY" },
        },
      },
    ],
  };
}

const HEADER = `# Generated by mesh/generate.mjs from gen/methods.json (the contracts' method policy).
# Do not edit: change the protos or mesh/generate.mjs, run \`npm run generate && node mesh/generate.mjs\`.
`;

/** The text of each mesh/*.yaml file. */
export function renderMesh(catalog, m = MESH) {
  const out = {};
  for (const [file, docs] of Object.entries(generateMesh(catalog, m))) {
    out[file] =
      HEADER +
      docs.map((d) => `---\n${stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })}`).join("");
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));

function main() {
  const catalog = JSON.parse(readFileSync(join(here, "..", "gen", "methods.json"), "utf8"));
  const files = renderMesh(catalog);
  const check = process.argv.includes("--check");
  const stale = [];
  for (const [file, text] of Object.entries(files)) {
    const path = join(here, file);
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {}
    if (current === text) continue;
    if (check) stale.push(file);
    else writeFileSync(path, text);
  }
  if (check && stale.length) {
    console.error(`mesh: stale ${stale.join(", ")}: run node mesh/generate.mjs`);
    process.exit(1);
  }
  console.log(`mesh: ${Object.keys(files).length} files ${check ? "up to date" : "written"}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
