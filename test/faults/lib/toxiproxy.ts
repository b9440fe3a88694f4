// A private toxiproxy-server (pinned, from `scripts/tools.sh toxiproxy-server`) on a free port,
// driven through its HTTP API: one proxy per link the suite breaks (a service to a store, the
// gateway to a service replica), toxics added and removed while the workload runs.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { clusterPort } from "./ports.js";

const root = join(import.meta.dirname, "..", "..", "..");

export type ToxicType = "latency" | "bandwidth" | "reset_peer" | "timeout" | "limit_data" | "slicer";

export interface Toxic {
  name: string;
  type: ToxicType;
  stream?: "upstream" | "downstream";
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface Toxiproxy {
  api: string;
  pid: number;
  /** Creates a proxy on a free port in front of `upstream` (host:port); resolves with its host:port. */
  proxy(name: string, upstream: string): Promise<string>;
  /** Refuses new connections and closes the open ones (enabled=false), or lets them in again. */
  setEnabled(name: string, enabled: boolean): Promise<void>;
  addToxic(proxy: string, toxic: Toxic): Promise<void>;
  removeToxic(proxy: string, toxic: string): Promise<void>;
  /** Every proxy enabled, every toxic removed. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function toxiproxyBinary(): string {
  const bin = process.env.TOXIPROXY_SERVER_BIN ?? join(root, ".tools", "bin", "toxiproxy-server");
  if (!existsSync(bin)) throw new Error(`${bin} missing: run scripts/tools.sh toxiproxy-server`);
  return bin;
}

export async function startToxiproxy(): Promise<Toxiproxy> {
  const port = await clusterPort();
  const api = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(toxiproxyBinary(), ["-host", "127.0.0.1", "-port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn" },
  });
  let stderr = "";
  proc.stderr?.on("data", (b: Buffer) => {
    if (stderr.length < 20_000) stderr += b.toString();
  });
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const until = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`toxiproxy-server exited (${proc.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`${api}/version`)).ok) break;
    } catch {}
    if (Date.now() > until) {
      proc.kill("SIGKILL");
      throw new Error(`toxiproxy-server did not answer within 15 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    api,
    pid: proc.pid ?? 0,
    async proxy(name, upstream) {
      // The free port is probed here and bound by toxiproxy a moment later; retry on a clash.
      for (let attempt = 0; ; attempt++) {
        const listen = `127.0.0.1:${await clusterPort()}`;
        try {
          await send("POST", "/proxies", { name, listen, upstream, enabled: true });
          return listen;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    },
    setEnabled: (name, enabled) => send("POST", `/proxies/${name}`, { enabled }),
    addToxic: (proxy, toxic) =>
      send("POST", `/proxies/${proxy}/toxics`, { stream: "downstream", toxicity: 1, ...toxic }),
    removeToxic: (proxy, toxic) => send("DELETE", `/proxies/${proxy}/toxics/${toxic}`),
    reset: () => send("POST", "/reset"),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    },
  };
}
