// Renders the Helm chart with the pinned helm (scripts/tools.sh) and loads mesh/*.yaml, as
// plain objects for the validators.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CHART = join(ROOT, "k8s", "filemesh");
export const NAMESPACE = "filemesh";
export const KUBE_VERSION = "1.31.0";
export const VALUE_SETS: Record<string, string[]> = {
  default: [],
  production: [join(ROOT, "k8s", "values", "production.yaml")],
};

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: any;
};

export function helmBinary(): string {
  const bin = join(ROOT, ".tools", "bin", "helm");
  if (!existsSync(bin)) execFileSync(join(ROOT, "scripts", "tools.sh"), ["helm"], { stdio: "inherit" });
  return bin;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const r = spawnSync(helmBinary(), args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  // Helm reports the links in files/ (to gateway/envoy.yaml and gen/filemesh.binpb) on stderr.
  const stderr = r.stderr
    .split("\n")
    .filter((l) => !/found symbolic link in path/.test(l))
    .join("\n")
    .trim();
  return { status: r.status ?? 1, stdout: r.stdout, stderr };
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`invalid YAML: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === "object");
}

/** `helm template` with the given values files (and --set pairs); throws with helm's message. */
export function renderChart(
  valueFiles: string[],
  opts: { set?: string[]; namespace?: string } = {},
): K8sObject[] {
  const key = JSON.stringify([valueFiles, opts]);
  let text = rendered.get(key);
  if (text === undefined) {
    const r = templateResult(valueFiles, opts);
    if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    text = r.stdout;
    rendered.set(key, text);
  }
  return parseManifests(text);
}

/** helm template output by arguments (the chart does not change during a run). */
const rendered = new Map<string, string>();

export function templateResult(
  valueFiles: string[],
  opts: { set?: string[]; namespace?: string } = {},
): HelmResult {
  const args = [
    "template",
    "filemesh",
    CHART,
    "--namespace",
    opts.namespace ?? NAMESPACE,
    "--kube-version",
    KUBE_VERSION,
  ];
  for (const f of valueFiles) args.push("-f", f);
  for (const s of opts.set ?? []) args.push("--set", s);
  return helm(args);
}

/** Writes values to a temporary file (for tests that edit a values set in memory). */
export function valuesFile(values: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "filemesh-values-"));
  const file = join(dir, "values.yaml");
  writeFileSync(file, stringify(values));
  return file;
}

export function readYaml(path: string): unknown {
  return parseAllDocuments(readFileSync(path, "utf8"))[0]?.toJS();
}

/** Every object of mesh/*.yaml, with the file it came from. */
export function loadMesh(): (K8sObject & { file: string })[] {
  const dir = join(ROOT, "mesh");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseManifests(readFileSync(join(dir, f), "utf8")).map((o) => ({ ...o, file: f })));
}

export const clone = <T>(x: T): T => structuredClone(x);

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}
