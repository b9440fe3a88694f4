// Validation of rendered objects against the real schemas: Kubernetes (kubernetes-models),
// Istio (@kubernetes-models/istio) and the Prometheus Operator CRDs. Their validators do not
// reject unknown fields, which the API server does (strict field validation), so a second
// pass type-checks every object against the same packages' TypeScript types, whose excess
// property checks catch a misspelt field.
import { join } from "node:path";
import * as istioNetworking from "@kubernetes-models/istio/networking.istio.io/v1";
import * as istioSecurity from "@kubernetes-models/istio/security.istio.io/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as autoscaling from "kubernetes-models/autoscaling/v2";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as core from "kubernetes-models/v1";
import ts from "typescript";
import { type K8sObject, ROOT } from "./render.js";

type Model = { apiVersion: string; kind: string; new (data: object): { validate(): void } };

/** Each supported apiVersion → its module, the package path of its types, and its models. */
const GROUPS: [string, string, Record<string, unknown>][] = [
  ["v1", "kubernetes-models/v1", core],
  ["apps/v1", "kubernetes-models/apps/v1", apps],
  ["autoscaling/v2", "kubernetes-models/autoscaling/v2", autoscaling],
  ["policy/v1", "kubernetes-models/policy/v1", policy],
  ["networking.k8s.io/v1", "kubernetes-models/networking.k8s.io/v1", networking],
  ["networking.istio.io/v1", "@kubernetes-models/istio/networking.istio.io/v1", istioNetworking],
  ["security.istio.io/v1", "@kubernetes-models/istio/security.istio.io/v1", istioSecurity],
  ["monitoring.coreos.com/v1", "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1", monitoring],
];

function modelFor(o: K8sObject): { model: Model; typesModule: string } | undefined {
  const group = GROUPS.find(([v]) => v === o.apiVersion);
  const model = group?.[2][o.kind] as Model | undefined;
  if (!group || typeof model !== "function" || model.kind !== o.kind) return undefined;
  return { model, typesModule: `${group[1]}/${o.kind}` };
}

const label = (o: K8sObject) => `${o.kind}/${o.metadata?.name} (${o.apiVersion})`;

/** Schema problems of each object ("" when none), by the real JSON schemas. */
export function schemaProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const found = modelFor(o);
    if (!found) {
      problems.push(`${label(o)}: no schema known for this apiVersion and kind`);
      continue;
    }
    try {
      new found.model(o).validate();
    } catch (err) {
      problems.push(`${label(o)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Unknown fields, by type-checking each object literal against its model's TypeScript type. */
export function unknownFieldProblems(objects: K8sObject[]): string[] {
  const file = join(ROOT, "test", "deploy", "lib", "__rendered__.ts");
  let src = "";
  const starts: number[] = [];
  objects.forEach((o, i) => {
    const found = modelFor(o);
    if (!found) return;
    src += `import type { I${o.kind} as T${i} } from "${found.typesModule}";\n`;
  });
  objects.forEach((o, i) => {
    if (!modelFor(o)) return;
    starts[i] = src.length;
    src += `export const o${i}: T${i} = ${JSON.stringify(o)};\n`;
  });
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, src, lang) : getSourceFile(f, lang, ...rest);
  host.fileExists = (f) => f === file || fileExists(f);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const at = d.start ?? 0;
    const index = starts.findLastIndex((s) => s !== undefined && s <= at);
    const o = objects[index];
    return `${o ? label(o) : "?"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}
