// The fault suite's mesh: REPLICAS (2) processes of every service from dist/, the Go gateway,
// and stores of its own — a private database on the test Postgres, a private redis-server and
// nats-server -js (so they can be restarted, flushed and killed), a private MinIO — with a
// toxiproxy between every service and each store and between the gateway and every replica.
// Services call each other directly. Replicas keep their ports across restarts, as pods keep
// their Service address.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  liftedRateLimits,
  type OwnNats,
  ownNatsServer,
  privateDatabase,
  startTestMinio,
  type TestMinio,
  tempKeyDir,
} from "@filemesh/kit/testing";
import pg from "pg";
import { waitServing } from "../../../scripts/lib/health.mjs";
import { clusterPort } from "./ports.js";
import { startToxiproxy, type Toxiproxy } from "./toxiproxy.js";

export const ROOT = join(import.meta.dirname, "..", "..", "..");
export const SERVICES = ["auth", "permission", "file", "user", "processor"] as const;
export type Service = (typeof SERVICES)[number];
export type Store = "postgres" | "redis" | "nats" | "minio";
export const STORES: Store[] = ["postgres", "redis", "nats", "minio"];

type Env = Record<string, string>;

/** One replica: a `node dist/<service>.js` process on a fixed port, restartable. */
export class Replica {
  proc: ChildProcess | undefined;
  starts = 0;
  constructor(
    readonly service: Service,
    readonly index: number,
    readonly port: number,
    /** The file service's HTTP listener (tus, the data endpoint); 0 for the others. */
    readonly httpPort: number,
    private readonly env: () => Env,
    private readonly log: WriteStream,
  ) {}
  get name() {
    return `${this.service}#${this.index}`;
  }
  get addr() {
    return `127.0.0.1:${this.port}`;
  }
  get alive() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  async start(): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.starts++;
    const p = spawn(process.execPath, ["--enable-source-maps", join("dist", `${this.service}.js`)], {
      cwd: ROOT,
      env: {
        ...this.env(),
        GRPC_PORT: String(this.port),
        ADMIN_PORT: "0",
        ...(this.httpPort ? { FILE_HTTP_PORT: String(this.httpPort) } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = p;
    const tag = `[${this.name}/${this.starts}] `;
    for (const s of [p.stdout, p.stderr]) s?.on("data", (b: Buffer) => this.log.write(tag + b.toString()));
    p.once("exit", (code, sig) => this.log.write(`${tag}exited (${sig ?? code})\n`));
    if (!(await waitServing(this.addr, { timeoutMs: 60_000, isAlive: () => p.exitCode === null }))) {
      throw new Error(`${this.name} did not become SERVING (log: ${this.log.path})`);
    }
  }
  private exited(p: ChildProcess) {
    return new Promise<void>((r) =>
      p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r()),
    );
  }
  /** kill -9: no drain, no goodbye. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill("SIGKILL");
    await this.exited(p);
  }
  /** What Kubernetes does to a pod: SIGTERM, then wait for the exit (SIGKILL after `graceMs`). */
  async terminate(graceMs = 35_000): Promise<number> {
    const p = this.proc;
    if (!p || !this.alive) return 0;
    const t0 = Date.now();
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
    await this.exited(p);
    clearTimeout(timer);
    return Date.now() - t0;
  }
}

export interface Cluster {
  dir: string;
  gateway: string;
  gatewayGrpc: string;
  toxi: Toxiproxy;
  /** Toxiproxy names: `<service>-<store>` and `gw-<service>-<i>`. */
  storeProxies(store: Store): string[];
  replicas: Record<Service, Replica[]>;
  /** A direct pool on the private database (for the checker). */
  db: pg.Pool;
  env: Env;
  redis: { restart(): Promise<void> };
  nats: OwnNats;
  logPath: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  replicas?: number;
  env?: Env;
}

/** A redis-server without persistence on a fixed port: a restart is also a flush. */
async function privateRedis(dir: string, log: WriteStream) {
  const port = await clusterPort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    proc = p;
    for (const s of [p.stdout, p.stderr]) s?.on("data", (b: Buffer) => log.write(`[redis] ${b}`));
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (p.exitCode !== null) throw new Error("redis-server exited");
      if (await accepts(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("redis-server did not start");
  };
  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };
  await start();
  return { port, start, stop };
}

function accepts(port: number): Promise<boolean> {
  return import("node:net").then(
    ({ createConnection }) =>
      new Promise<boolean>((resolve) => {
        const s = createConnection({ host: "127.0.0.1", port });
        s.once("connect", () => s.end(() => resolve(true)));
        s.once("error", () => resolve(false));
      }),
  );
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const n = opts.replicas ?? Number(process.env.REPLICAS ?? 2);
  const dir = mkdtempSync(join(tmpdir(), "filemesh-faults-"));
  mkdirSync(join(dir, "redis"));
  const logPath = join(dir, "mesh.log");
  const log = createWriteStream(logPath);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const database = await privateDatabase();
    cleanups.push(() => database.drop());
    const redis = await privateRedis(join(dir, "redis"), log);
    cleanups.push(() => redis.stop());
    const nats = await ownNatsServer();
    cleanups.push(() => nats.cleanup());
    const minio: TestMinio = await startTestMinio();
    cleanups.push(() => minio.stop());
    const toxi = await startToxiproxy();
    cleanups.push(() => toxi.stop());

    const dbUrl = new URL(database.url);
    const minioUrl = new URL(minio.endpoint);
    const upstream: Record<Store, string> = {
      postgres: `${dbUrl.hostname}:${dbUrl.port || 5432}`,
      redis: `127.0.0.1:${redis.port}`,
      nats: nats.url.replace("nats://", ""),
      minio: minioUrl.host,
    };
    // Each service reaches each store through a proxy of its own, so a fault can hit one
    // service's link (or all of them).
    const storeEnv = {} as Record<Service, Env>;
    for (const s of SERVICES) {
      const at = {} as Record<Store, string>;
      for (const store of STORES) at[store] = await toxi.proxy(`${s}-${store}`, upstream[store]);
      const db = new URL(database.url);
      [db.hostname, db.port] = at.postgres.split(":") as [string, string];
      storeEnv[s] = {
        DATABASE_URL: db.toString(),
        REDIS_URL: `redis://${at.redis}`,
        NATS_URL: `nats://${at.nats}`,
        ...minio.env("filemesh-faults"),
        S3_ENDPOINT: `http://${at.minio}`,
      };
    }
    const ports = {} as Record<Service, number[]>;
    for (const s of SERVICES) ports[s] = await Promise.all(Array.from({ length: n }, () => clusterPort()));
    const fileHttpPorts = await Promise.all(Array.from({ length: n }, () => clusterPort()));
    const common: Env = {
      PATH: process.env.PATH ?? "",
      LOG_LEVEL: "info",
      JWT_KEYS_DIR: tempKeyDir(),
      PASSWORD_PEPPER: randomBytes(32).toString("base64url"),
      INTERNAL_TOKEN: randomBytes(24).toString("base64url"),
      BCRYPT_COST: "4",
      LOGIN_FREE_ATTEMPTS: "100",
      TRUST_FORWARDED_FOR: "true",
      RATE_LIMITS: liftedRateLimits(),
      // What the chart sets (values.yaml common.shutdownDrainDelay is 5s; shorter here to keep
      // the suite's time bounded — the gateway and the peers watch health, not a clock).
      SHUTDOWN_DRAIN_DELAY: "2s",
      FILES_READY_ON_COMMIT: "false",
      // A processor killed with -9 holds the uploads it had pulled until JetStream redelivers
      // them, ACK_WAIT later (2m by default: see docs/deploy.md, "Faults"); shorter here so the
      // checker's wait for READY stays bounded.
      ACK_WAIT: "15s",
      // A raw upload's reservation on a file replica killed with -9 is given back by the
      // janitor once its lease lapses (store/reservations.ts): both short here, so the
      // checker's wait for "no quota reserved" stays bounded.
      RAW_RESERVATION_LEASE: "5s",
      // A session whose completing replica was killed with -9 is taken over by the next request
      // for it once the completion's lease lapses: within the checker's grace after a fault.
      COMPLETION_LEASE: "5s",
      // An upload whose event was lost (NATS killed with -9) is re-driven this long after its
      // commit (domain/redrive.ts); within the checker's 60 s wait for READY.
      PROCESSING_REDRIVE_AFTER: "20s",
      // A membership change whose user replica was killed between its permission write and its
      // commit is undone by a sweep this long after (domain/acl-repair.ts): within the checker's wait.
      ACL_REPAIR_AFTER: "5s",
      JANITOR_INTERVAL: "5s",
      ...Object.fromEntries(
        SERVICES.map((s) => [`${s.toUpperCase()}_ADDRS`, ports[s].map((p) => `127.0.0.1:${p}`).join(",")]),
      ),
      ...opts.env,
    };
    const replicas = {} as Record<Service, Replica[]>;
    for (const s of SERVICES) {
      replicas[s] = ports[s].map(
        (port, i) =>
          new Replica(
            s,
            i,
            port,
            s === "file" ? fileHttpPorts[i]! : 0,
            () => ({ ...common, ...storeEnv[s] }),
            log,
          ),
      );
    }
    cleanups.push(async () => {
      for (const s of [...SERVICES].reverse()) await Promise.all(replicas[s].map((r) => r.kill()));
    });
    // In order (later services call earlier ones at start-up); the first replica of each
    // runs the migrations before its sibling starts.
    for (const s of SERVICES) for (const r of replicas[s]) await r.start();

    // The gateway reaches each replica through a proxy of its own.
    const gwEnv: Env = { PATH: process.env.PATH ?? "", GATEWAY_PORT: String(await clusterPort()) };
    for (const s of SERVICES) {
      const addrs: string[] = [];
      for (const r of replicas[s]) addrs.push(await toxi.proxy(`gw-${s}-${r.index}`, r.addr));
      gwEnv[`${s.toUpperCase()}_ADDRS`] = addrs.join(",");
    }
    // The file service's HTTP listeners (tus, the data endpoint), through proxies too.
    const httpAddrs: string[] = [];
    for (const r of replicas.file)
      httpAddrs.push(await toxi.proxy(`gw-filehttp-${r.index}`, `127.0.0.1:${r.httpPort}`));
    gwEnv.FILE_HTTP_ADDRS = httpAddrs.join(",");
    const gw = spawn(join(ROOT, "dist", "filemesh-gateway"), [], {
      cwd: ROOT,
      env: gwEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const st of [gw.stdout, gw.stderr]) st?.on("data", (b: Buffer) => log.write(`[gateway] ${b}`));
    cleanups.push(async () => {
      if (gw.exitCode !== null) return;
      const exited = new Promise((r) => gw.once("exit", r));
      gw.kill("SIGKILL");
      await exited;
    });
    const gateway = `http://127.0.0.1:${gwEnv.GATEWAY_PORT}`;
    const until = Date.now() + 30_000;
    for (;;) {
      if (gw.exitCode !== null) throw new Error(`gateway exited (log: ${logPath})`);
      const ok = await fetch(`${gateway}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error(`gateway not healthy (log: ${logPath})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const db = new pg.Pool({ connectionString: database.url, max: 4 });
    cleanups.push(() => db.end());
    return {
      dir,
      gateway,
      gatewayGrpc: `127.0.0.1:${gwEnv.GATEWAY_PORT}`,
      toxi,
      storeProxies: (store) => SERVICES.map((s) => `${s}-${store}`),
      replicas,
      db,
      env: common,
      nats,
      redis: {
        async restart() {
          await redis.stop();
          await redis.start();
        },
      },
      logPath,
      async stop() {
        await cleanup();
        log.end();
        if (!process.env.FAULTS_KEEP) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await cleanup();
    log.end();
    throw err;
  }
}
