// The REST conformance suite runs against a gateway URL: CONFORMANCE_BASE_URL when given (a
// running `npm start`, or Envoy in a cluster), else a local gateway (dist/filemesh-gateway)
// started here in front of an in-process mesh.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { type ServiceName, startTestMesh, type TestMesh } from "../harness/mesh.js";
import { assertResponsesValid, stopValidating, validateResponsesOf } from "./openapi-validate.js";

export interface Target {
  base: string;
  /** The mesh behind the gateway (undefined against an external URL). */
  mesh?: TestMesh;
  stop(): Promise<void>;
}

const root = join(import.meta.dirname, "..", "..");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export async function startTarget(opts: {
  services: ServiceName[];
  /** Extra env for every service (e.g. a private database and NATS). */
  env?: Record<string, string>;
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  gatewayEnv?: Record<string, string>;
  replicas?: Partial<Record<ServiceName, number>>;
}): Promise<Target> {
  const external = process.env.CONFORMANCE_BASE_URL;
  if (external) {
    const base = external.replace(/\/$/, "");
    await validateResponsesOf(base); // every response is checked against the OpenAPI document
    return {
      base,
      stop: async () => {
        stopValidating(base);
        assertResponsesValid();
      },
    };
  }
  const bin = join(root, "dist", "filemesh-gateway");
  if (!existsSync(bin)) throw new Error("dist/filemesh-gateway is missing: run npm run build");
  const mesh = await startTestMesh({
    services: opts.services,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
    ...(opts.replicas ? { replicas: opts.replicas } : {}),
  });
  const port = await freePort();
  const env: Record<string, string> = { ...process.env, GATEWAY_PORT: String(port) } as Record<
    string,
    string
  >;
  for (const s of ["auth", "user", "permission", "file", "processor"] as const) {
    const addrs = mesh.runtimes[s]?.map((r) => `127.0.0.1:${r.port}`).join(",");
    // Services not started here point at a closed port, so /healthz reports them.
    env[`${s.toUpperCase()}_ADDRS`] = addrs || "127.0.0.1:1";
  }
  env.FILE_HTTP_ADDRS = mesh.env.FILE_HTTP_ADDRS ?? "127.0.0.1:1";
  Object.assign(env, opts.gatewayEnv);
  const child = spawn(bin, [], { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
    try {
      await fetch(`${base}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`gateway did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await validateResponsesOf(base); // every response is checked against the OpenAPI document
  return {
    base,
    mesh,
    async stop() {
      stopValidating(base);
      child.kill("SIGTERM");
      const exited = new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
      // The gateway drains keep-alive connections for up to 20 s; tests need not wait.
      const timer = setTimeout(() => child.kill("SIGKILL"), 1_000);
      await exited;
      clearTimeout(timer);
      await mesh.stop();
      assertResponsesValid();
    },
  };
}

/** fetch + JSON, returning status, headers and the parsed body (or text). */
export async function rest(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body =
      typeof body === "string" || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The ErrorInfo reason of a google.rpc.Status JSON body. */
export function reasonOf(body: any): string | undefined {
  return body?.details?.find((d: any) => String(d["@type"]).endsWith("google.rpc.ErrorInfo"))?.reason;
}

/** A loopback address of our own (127.0.x.y), distinct within the test file: a test can play an
 * attacker and a victim on one machine, each with its own per-address limits. */
const usedLoopbacks = new Set<string>();
export function loopback(): string {
  for (;;) {
    const a = `127.0.${1 + Math.floor(Math.random() * 254)}.${2 + Math.floor(Math.random() * 252)}`;
    if (!usedLoopbacks.has(a)) {
      usedLoopbacks.add(a);
      return a;
    }
  }
}

/** A REST call sent from a chosen local address (see loopback). */
export function restFrom(
  from: string,
  base: string,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const url = new URL(path, base);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        agent: false,
        headers: { ...(data ? { "content-type": "application/json" } : {}), ...headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}
