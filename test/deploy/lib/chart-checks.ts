// Cross-checks of a rendered chart that no schema can express: hardening, probes, names,
// and references between objects. Each returns the problems found (empty when sound), so
// the negative tests feed them broken objects and assert on what they report.
import type { K8sObject } from "./render.js";

export const SERVICES = ["auth", "user", "permission", "file", "processor"] as const;

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

type Any = any;

function containerProblems(where: string, c: Any, isService: boolean, grpcPort?: number): string[] {
  const p: string[] = [];
  const sc = c.securityContext ?? {};
  if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: root filesystem is not read-only`);
  if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: privilege escalation not disabled`);
  if (sc.privileged === true) p.push(`${where}: privileged`);
  if (!sc.capabilities?.drop?.includes("ALL")) p.push(`${where}: capabilities not dropped (ALL)`);
  if (sc.capabilities?.add?.length) p.push(`${where}: adds capabilities`);
  if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory)
    p.push(`${where}: no cpu/memory requests`);
  if (!c.resources?.limits?.memory) p.push(`${where}: no memory limit`);
  if (
    typeof c.image !== "string" ||
    !/:[\w.-]+(@sha256:[a-f0-9]{64})?$/.test(c.image) ||
    /:latest\b/.test(c.image)
  )
    p.push(`${where}: image ${c.image} has no pinned tag`);
  for (const port of c.ports ?? [])
    if (!port.name) p.push(`${where}: container port ${port.containerPort} has no name`);
  for (const kind of ["readinessProbe", "livenessProbe"]) {
    const probe = c[kind];
    if (!probe) {
      p.push(`${where}: no ${kind}`);
      continue;
    }
    if (isService) {
      if (!probe.grpc) p.push(`${where}: ${kind} is not a native gRPC probe`);
      else if (probe.grpc.port !== grpcPort)
        p.push(`${where}: ${kind} probes port ${probe.grpc.port}, not grpc`);
    }
  }
  if (isService && !c.startupProbe?.grpc) p.push(`${where}: no gRPC startupProbe`);
  return p;
}

export function chartProblems(objects: K8sObject[]): string[] {
  const p: string[] = [];
  const accounts = new Set(byKind(objects, "ServiceAccount").map((o) => o.metadata.name));
  const configMaps = new Set(byKind(objects, "ConfigMap").map((o) => o.metadata.name));
  const services = byKind(objects, "Service");
  const deployments = byKind(objects, "Deployment");
  const podsOf = (d: K8sObject) => d.spec?.template?.metadata?.labels as Record<string, string> | undefined;

  for (const d of deployments) {
    const name = d.metadata.name;
    const where = `Deployment/${name}`;
    const pod: Any = d.spec?.template?.spec ?? {};
    const labels = podsOf(d);
    const isService = labels?.["app.kubernetes.io/component"] === "service";
    if (!matches(d.spec?.selector?.matchLabels, labels))
      p.push(`${where}: selector does not match its pod labels`);
    // Service account: exists; for services named like the service (the kit reads the
    // caller's SPIFFE identity .../sa/<name> as the calling service).
    if (!pod.serviceAccountName) p.push(`${where}: no serviceAccountName`);
    else if (!accounts.has(pod.serviceAccountName))
      p.push(`${where}: service account ${pod.serviceAccountName} is not rendered`);
    if (isService && pod.serviceAccountName !== name)
      p.push(`${where}: service account ${pod.serviceAccountName} must be named ${name}`);
    if (pod.automountServiceAccountToken !== false) p.push(`${where}: mounts a Kubernetes API token`);
    const psc = pod.securityContext ?? {};
    if (psc.runAsNonRoot !== true) p.push(`${where}: runAsNonRoot is not set`);
    if (!(psc.runAsUser > 0)) p.push(`${where}: runAsUser is not a non-root uid`);
    if (psc.seccompProfile?.type !== "RuntimeDefault") p.push(`${where}: no RuntimeDefault seccomp profile`);
    const spread: Any[] = pod.topologySpreadConstraints ?? [];
    for (const key of ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]) {
      const c = spread.find((s) => s.topologyKey === key);
      if (!c) p.push(`${where}: no topology spread over ${key}`);
      else if (!matches(c.labelSelector?.matchLabels, labels))
        p.push(`${where}: spread over ${key} selects other pods`);
    }
    for (const c of pod.containers ?? []) {
      const grpcPort = (c.ports ?? []).find((x: Any) => x.name === "grpc")?.containerPort;
      if (isService && grpcPort === undefined) p.push(`${where}: container ${c.name} has no port named grpc`);
      p.push(...containerProblems(`${where}/${c.name}`, c, isService, grpcPort));
      for (const ref of c.envFrom ?? []) {
        if (ref.configMapRef && !configMaps.has(ref.configMapRef.name))
          p.push(`${where}: ConfigMap ${ref.configMapRef.name} is not rendered`);
      }
    }
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name))
        p.push(`${where}: ConfigMap ${v.configMap.name} is not rendered`);
    }
    // Selected by a Service and a PDB; scaled by an HPA (PgBouncer: fixed replicas).
    const svc = services.filter((s) => matches(s.spec?.selector, labels));
    if (svc.length === 0) p.push(`${where}: no Service selects its pods`);
    if (!byKind(objects, "PodDisruptionBudget").some((b) => matches(b.spec?.selector?.matchLabels, labels)))
      p.push(`${where}: no PodDisruptionBudget`);
    const hpa = byKind(objects, "HorizontalPodAutoscaler").find((h) => h.spec?.scaleTargetRef?.name === name);
    if (labels?.["app.kubernetes.io/component"] !== "database-pooler" && !hpa)
      p.push(`${where}: no HorizontalPodAutoscaler`);
    if (hpa && hpa.spec.minReplicas > hpa.spec.maxReplicas) p.push(`${where}: HPA min above max`);
    if (byKind(objects, "NetworkPolicy").length > 0) {
      const own = byKind(objects, "NetworkPolicy").filter(
        (n) => matches(n.spec?.podSelector?.matchLabels, labels) && (n.spec?.ingress ?? []).length > 0,
      );
      if (own.length === 0) p.push(`${where}: no NetworkPolicy lets anything in`);
      const portNames = new Set(
        (pod.containers ?? []).flatMap((c: Any) => (c.ports ?? []).map((x: Any) => x.name)),
      );
      for (const n of own)
        for (const rule of n.spec.ingress)
          for (const port of rule.ports ?? [])
            if (typeof port.port === "string" && !portNames.has(port.port))
              p.push(`NetworkPolicy/${n.metadata.name}: port ${port.port} is not a port of ${name}`);
    }
  }

  for (const s of services) {
    const where = `Service/${s.metadata.name}`;
    const pods = deployments.filter((d) => matches(s.spec?.selector, podsOf(d)));
    if (pods.length === 0) p.push(`${where}: selects no pods`);
    const containerPorts = new Set(
      pods.flatMap((d) =>
        (d.spec.template.spec.containers ?? []).flatMap((c: Any) => (c.ports ?? []).map((x: Any) => x.name)),
      ),
    );
    for (const port of s.spec?.ports ?? []) {
      if (!port.name) p.push(`${where}: port ${port.port} has no name`);
      if (!port.appProtocol) p.push(`${where}: port ${port.name} has no appProtocol`);
      if (typeof port.targetPort !== "string" || !containerPorts.has(port.targetPort))
        p.push(`${where}: port ${port.name} targets ${port.targetPort}, not a named container port`);
    }
    if ((SERVICES as readonly string[]).includes(s.metadata.name)) {
      const grpc = (s.spec?.ports ?? []).find((x: Any) => x.name === "grpc");
      if (grpc?.appProtocol !== "grpc") p.push(`${where}: no port named grpc with appProtocol grpc`);
    }
  }

  // Peers are addressed by Service DNS name and port, and those must exist.
  const ports = new Map(
    services.map((s) => [s.metadata.name, new Set((s.spec?.ports ?? []).map((x: Any) => x.port))]),
  );
  for (const cm of byKind(objects, "ConfigMap")) {
    for (const [key, value] of Object.entries<string>(cm.data ?? {})) {
      if (!key.endsWith("_ADDRS")) continue;
      const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)$/.exec(value);
      if (!m || !ports.get(m[1] ?? "")?.has(Number(m[3])) || m[2] !== cm.metadata.namespace)
        p.push(`ConfigMap/${cm.metadata.name}: ${key}=${value} is not a rendered Service port`);
    }
  }

  for (const sm of byKind(objects, "ServiceMonitor")) {
    const selected = services.filter((s) => matches(sm.spec?.selector?.matchLabels, s.metadata.labels));
    if (selected.length === 0) p.push(`ServiceMonitor/${sm.metadata.name}: selects no Service`);
    for (const e of sm.spec?.endpoints ?? [])
      for (const s of selected)
        if (!(s.spec?.ports ?? []).some((x: Any) => x.name === e.port))
          p.push(`ServiceMonitor/${sm.metadata.name}: Service ${s.metadata.name} has no port ${e.port}`);
  }
  return p;
}
