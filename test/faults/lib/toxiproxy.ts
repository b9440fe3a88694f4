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

/**
 * Starts toxiproxy-server on a port of this worker's block and waits for its API. Once seen
 * (stop 27, the two fault suites side by side): a server that never answered within 15 s with
 * nothing on stderr — it is started again on another port, twice at most, and a failure names
 * the port, the process state and everything it printed.
 */
export async function startToxiproxy(): Promise<Toxiproxy> {
  for (let attempt = 1; ; attempt++) {
    const port = await clusterPort();
    const proc: ChildProcess = spawn(toxiproxyBinary(), ["-host", "127.0.0.1", "-port", String(port)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn" },
    });
    let output = "";
    const keep = (b: Buffer) => {
      if (output.length < 20_000) output += b.toString();
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    const problem = await answers(`http://127.0.0.1:${port}`, proc, 10_000);
    if (!problem) return toxiproxyAt(`http://127.0.0.1:${port}`, proc);
    proc.kill("SIGKILL");
    const why = `toxiproxy-server on 127.0.0.1:${port} (attempt ${attempt}): ${problem}; output: ${output || "none"}`;
    if (attempt >= 3) throw new Error(why);
    console.warn(`${why}; starting it again on another port`);
  }
}

/** Waits for the API; returns what went wrong, or undefined once it answers. */
async function answers(api: string, proc: ChildProcess, ms: number): Promise<string | undefined> {
  const until = Date.now() + ms;
  let last = "";
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return `exited (${proc.exitCode ?? proc.signalCode})`;
    }
    try {
      const res = await fetch(`${api}/version`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return undefined;
      last = `GET /version answered ${res.status}`;
    } catch (err) {
      last = (err as Error).cause ? String((err as Error).cause) : (err as Error).message;
    }
    if (Date.now() > until) return `no answer within ${ms / 1000} s (last: ${last})`;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function toxiproxyAt(api: string, proc: ChildProcess): Toxiproxy {
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
