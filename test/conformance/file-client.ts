// A REST client for the file conformance tests: sign-up, JSON and raw-body calls, and a
// record of which google.api.http bindings of FileService the calls exercised, so a test
// file can require that it covers every binding it owns.
import { createHash } from "node:crypto";
import { methodCatalog } from "@filemesh/contracts";
import { rest } from "./target.js";

type H = Record<string, string>;

export interface Binding {
  method: string;
  path: string;
  /** Raw-body routes (streaming RPCs); the others take and give JSON. */
  raw: boolean;
}

/** Every REST binding of FileService. */
export const fileBindings: Binding[] = methodCatalog
  .filter((m) => m.service === "filemesh.file.v1.FileService")
  .flatMap((m) =>
    m.http.map((h) => ({ method: h.method, path: h.path, raw: m.clientStreaming || m.serverStreaming })),
  );

const key = (b: Binding) => `${b.method} ${b.path}`;

/** A path template as a regular expression over the escaped path (`{x}`: one segment, no verb). */
function templateRegex(template: string): RegExp {
  const source = template
    .split(/(\{[^}]*\})/)
    .map((part) => {
      if (!part.startsWith("{")) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      return part.includes("**") ? ".+" : "[^/:]+";
    })
    .join("");
  return new RegExp(`^${source}$`);
}

export const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export function fileClient(base: () => string) {
  const matchers = fileBindings.map((b) => ({ b, re: templateRegex(b.path) }));
  const hit = new Set<string>();
  const record = (method: string, path: string) => {
    const p = new URL(path, "http://x").pathname;
    for (const { b, re } of matchers) if (b.method === method && re.test(p)) hit.add(key(b));
  };
  const PASSWORD = "a long rest passphrase";
  return {
    /** A new user: id and Authorization header. */
    async signup(): Promise<{ id: string; auth: H }> {
      const email = `files-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
      const reg = await rest(base(), "POST", "/v1/auth:register", {
        email,
        password: PASSWORD,
        displayName: "F",
      });
      const login = await rest(base(), "POST", "/v1/auth:login", { email, password: PASSWORD });
      return { id: reg.body.user.id, auth: { authorization: `Bearer ${login.body.accessToken}` } };
    },
    /** A JSON call. */
    call(method: string, path: string, auth: H = {}, body?: unknown) {
      record(method, path);
      return rest(base(), method, path, body, auth);
    },
    /** A raw-body call: the bytes both ways, and the headers. */
    async raw(method: string, path: string, auth: H, body?: Uint8Array) {
      record(method, path);
      const init: RequestInit = { method, headers: { ...auth, "content-type": "application/octet-stream" } };
      if (body) init.body = body;
      const res = await fetch(`${base()}${path}`, init);
      return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
    },
    /** The bindings (of those `owned`) no call has exercised yet. */
    unexercised(owned: (b: Binding) => boolean): string[] {
      return fileBindings
        .filter(owned)
        .map(key)
        .filter((k) => !hit.has(k));
    },
  };
}

/** A Content-Disposition value split into its type and parameters (RFC 6266); duplicates throw. */
export function parseDisposition(value: string): { type: string; params: Map<string, string> } {
  const parts = (value.match(/(?:[^;"]|"(?:[^"\\]|\\.)*")+/g) ?? []).map((s) => s.trim());
  const [type = "", ...rest] = parts;
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    const name = p.slice(0, eq).trim().toLowerCase();
    if (eq < 0 || params.has(name)) throw new Error(`malformed or repeated parameter ${JSON.stringify(p)}`);
    params.set(name, p.slice(eq + 1).trim());
  }
  return { type: type.toLowerCase(), params };
}
