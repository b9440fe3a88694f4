// Every response the REST conformance suite receives from the gateway is checked against the
// OpenAPI document (the one the gateway serves at /openapi.json; gen/openapi.json when the
// target serves none, e.g. Envoy): the operation is found by method and path template, its
// status must be one the document lists for it (no `default`), and a JSON body must match the
// listed schema. Errors on routes the document does not list must still be google.rpc.Status.
// A mismatch throws from fetch (failing the test that made the call) and is kept, so
// `assertResponsesValid()` (run by Target.stop) fails the file even if a test swallowed it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ValidateFunction } from "ajv";
import Ajv2020Module from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv and ajv-formats are CommonJS modules with `exports.default`; NodeNext types the default
// import as the whole module.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

type Json = any;
interface Operation {
  method: string;
  template: string;
  re: RegExp;
  vars: number;
  op: Json;
}

const root = join(import.meta.dirname, "..", "..");
const DOC_ID = "openapi.json";
/** Routes of the gateway itself, not of the contracts. */
// tus (/v1/tus/) is its own protocol (tus.io 1.0.0, docs/architecture.md), not in the document;
// /v1/data/{ticket} are the data plane's ticket URLs (docs/architecture.md §10).
const GATEWAY_ROUTES = /^\/(healthz|openapi\.json|docs(\/.*)?|v1\/tus(\/.*)?|v1\/data\/.*)$/;
/** Envoy-style auto-mapping: a unary RPC at its gRPC path (not part of the REST document). */
const GRPC_PATH = /^\/filemesh\.[a-z]+\.v[0-9]+\.[A-Za-z]+\/[A-Za-z]+$/;

export interface ResponseValidator {
  /** Checks one response; returns the problem, or undefined. */
  check(method: string, url: URL, res: Response): Promise<string | undefined>;
  readonly document: Json;
}

/** Loads the document from `text` and prepares its operations and schemas. */
export function responseValidator(text: string): ResponseValidator {
  // Refs point into the document; ajv resolves them against the document's id.
  const document = JSON.parse(text.replaceAll('"#/components/', `"${DOC_ID}#/components/`));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const f of ["int32", "int64", "uint64", "float", "double"]) ajv.addFormat(f, true); // patterns check them
  ajv.addSchema({ $id: DOC_ID, components: document.components });
  const compiled = new Map<object, ValidateFunction>();
  const validate = (schema: object, value: unknown): string | undefined => {
    const fn = compiled.get(schema) ?? ajv.compile(schema);
    compiled.set(schema, fn);
    if (fn(value)) return undefined;
    return ajv.errorsText(fn.errors, { separator: "; ", dataVar: "body" });
  };
  const deref = (x: Json): Json => {
    while (x?.$ref)
      x = x.$ref
        .split("#/")[1]
        .split("/")
        .reduce((o: Json, k: string) => o?.[k], document);
    return x;
  };

  const ops: Operation[] = [];
  for (const [template, item] of Object.entries<Json>(document.paths)) {
    for (const [method, op] of Object.entries<Json>(item)) {
      const source = template
        .split(/(\{[^}]*\})/)
        .map((part) => (part.startsWith("{") ? "[^/:]+" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
        .join("");
      ops.push({
        method: method.toUpperCase(),
        template,
        re: new RegExp(`^${source}$`),
        vars: template.split("{").length - 1,
        op,
      });
    }
  }
  ops.sort((a, b) => a.vars - b.vars); // /v1/users/me before /v1/users/{userId}
  const statusSchema = { $ref: `${DOC_ID}#/components/schemas/google.rpc.Status` };

  const jsonBody = async (res: Response): Promise<{ body?: unknown; problem?: string }> => {
    const text = await res.clone().text();
    try {
      return { body: JSON.parse(text) };
    } catch {
      return { problem: `body is not JSON: ${text.slice(0, 120)}` };
    }
  };
  const isJson = (res: Response) => (res.headers.get("content-type") ?? "").startsWith("application/json");

  return {
    document,
    async check(method, url, res) {
      const path = url.pathname;
      const where = `${method} ${path} → ${res.status}`;
      const found = ops.find((o) => o.method === method && o.re.test(path));
      if (!found) {
        if (GATEWAY_ROUTES.test(path) || (method === "POST" && GRPC_PATH.test(path) && res.ok))
          return undefined;
        if (res.ok) return `${where}: a route the OpenAPI document does not describe answered ${res.status}`;
        if (method === "HEAD" || !isJson(res))
          return `${where}: an error without a google.rpc.Status JSON body`;
        const { body, problem } = await jsonBody(res);
        if (problem) return `${where}: ${problem}`;
        const bad = validate(statusSchema, body);
        return bad && `${where}: error body is not a google.rpc.Status with an ErrorInfo: ${bad}`;
      }
      const response = deref(found.op.responses?.[String(res.status)]);
      if (!response) {
        const listed = Object.keys(found.op.responses ?? {}).join(", ");
        return `${where}: status ${res.status} is not listed for ${found.method} ${found.template} (${listed})`;
      }
      for (const [name, h] of Object.entries<Json>(response.headers ?? {})) {
        const want = deref(h).schema?.const;
        const got = res.headers.get(name);
        if (want !== undefined && got !== want)
          return `${where}: header ${name} is ${got}, the document says ${want}`;
      }
      const schema = response.content?.["application/json"]?.schema;
      if (!schema || method === "HEAD") return undefined; // raw bytes: any content
      if (!isJson(res))
        return `${where}: content type ${res.headers.get("content-type")}, the document says JSON`;
      const { body, problem } = await jsonBody(res);
      if (problem) return `${where}: ${problem}`;
      const bad = validate(schema, body);
      return bad && `${where}: body does not match the OpenAPI schema: ${bad}`;
    },
  };
}

const validators = new Map<string, ResponseValidator>();
const violations: string[] = [];
let original: typeof fetch | undefined;

/**
 * Validates every response of `base` from now on (this process's global fetch): the document
 * is the one `base` serves at /openapi.json, else gen/openapi.json.
 */
export async function validateResponsesOf(base: string): Promise<void> {
  original ??= globalThis.fetch;
  const served = await original(`${base}/openapi.json`).catch(() => undefined);
  const text =
    served?.ok && isJsonResponse(served)
      ? await served.text()
      : readFileSync(join(root, "gen", "openapi.json"), "utf8");
  validators.set(new URL(base).origin, responseValidator(text));
  if (globalThis.fetch !== checkedFetch) globalThis.fetch = checkedFetch;
}

export function stopValidating(base: string): void {
  validators.delete(new URL(base).origin);
}

/** Throws when any response so far did not match the document. */
export function assertResponsesValid(): void {
  if (violations.length) {
    const list = violations.splice(0).join("\n  - ");
    throw new Error(`responses that do not match the OpenAPI document:\n  - ${list}`);
  }
}

const isJsonResponse = (res: Response) =>
  (res.headers.get("content-type") ?? "").startsWith("application/json");

async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await (original as typeof fetch)(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  const validator = validators.get(url.origin);
  if (!validator || method === "OPTIONS") return res;
  const problem = await validator.check(method, url, res);
  if (problem) {
    violations.push(problem);
    throw new Error(`OpenAPI: ${problem}`);
  }
  return res;
}
