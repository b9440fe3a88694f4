// bcrypt on worker threads that run at a lower CPU priority (a higher nice value) than the
// event loop. On libuv's pool, hashes compete with the loop on equal terms: when logins saturate
// the hash slots, the loop's other calls (health, refresh, shed logins answered at once) wait for
// a core behind them. A hash here runs as bcrypt's own synchronous call on a thread of its own,
// which lowers its priority at start (Linux: setpriority on the thread's id, read from
// /proc/thread-self; elsewhere it keeps the process's priority). Hashes still take every cycle
// the loop leaves, so login throughput is unchanged; only who waits when both want a core.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** The nice value of the hash threads (the loop keeps the process's, normally 0). */
export const HASH_NICE = 10;

const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const bcrypt = require(workerData.bcrypt);
let tid = 0;
let nice = null;
try {
  const os = require("node:os");
  tid = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop());
  // Never above the process's own priority (a process already niced keeps its value).
  os.setPriority(tid, Math.max(workerData.nice, os.getPriority(tid)));
  nice = os.getPriority(tid);
} catch {}
parentPort.postMessage({ ready: true, tid, nice });
parentPort.on("message", (m) => {
  try {
    const value = m.hash === undefined ? bcrypt.hashSync(m.data, m.cost) : bcrypt.compareSync(m.data, m.hash);
    parentPort.postMessage({ value });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
});
`;

interface Job {
  data: string;
  cost?: number;
  hash?: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  job?: Job | undefined;
  /** The thread's id and nice value once it reported ready (undefined nice: not Linux). */
  thread?: { tid: number; nice: number | null };
}

export interface HashWorkers {
  hash(data: string, cost: number): Promise<string>;
  compare(data: string, hash: string): Promise<boolean>;
  /** The threads that reported ready: their ids and nice values (for tests and diagnostics). */
  threads(): { tid: number; nice: number | null }[];
  close(): Promise<void>;
}

export function createHashWorkers(size: number, nice = HASH_NICE): HashWorkers {
  const bcryptPath = createRequire(import.meta.url).resolve("bcrypt");
  const queue: Job[] = [];
  const slots: Slot[] = [];
  let closed = false;

  const next = (slot: Slot) => {
    const job = queue.shift();
    slot.job = job;
    if (job) slot.worker.postMessage({ data: job.data, cost: job.cost, hash: job.hash });
  };

  const spawn = (): Slot => {
    const worker = new Worker(SOURCE, { eval: true, workerData: { bcrypt: bcryptPath, nice } });
    worker.unref();
    const slot: Slot = { worker };
    worker.on(
      "message",
      (m: { ready?: boolean; tid?: number; nice?: number | null; value?: unknown; error?: string }) => {
        if (m.ready) {
          slot.thread = { tid: m.tid ?? 0, nice: m.nice ?? null };
          return;
        }
        const job = slot.job;
        if (!job) return;
        if (m.error !== undefined) job.reject(new Error(m.error));
        else job.resolve(m.value);
        next(slot);
      },
    );
    // A thread that dies fails its hash and is replaced.
    const lost = (err: Error) => {
      const job = slot.job;
      slot.job = undefined;
      job?.reject(err);
      const i = slots.indexOf(slot);
      if (i >= 0 && !closed) {
        slots[i] = spawn();
        next(slots[i]!);
      }
    };
    worker.on("error", lost);
    worker.on("exit", (code) => {
      if (!closed) lost(new Error(`hash worker exited (${code})`));
    });
    return slot;
  };

  for (let i = 0; i < Math.max(1, size); i++) slots.push(spawn());

  const run = <T>(job: Omit<Job, "resolve" | "reject">): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed) return reject(new Error("hash workers closed"));
      queue.push({ ...job, resolve: resolve as (v: unknown) => void, reject });
      const idle = slots.find((s) => !s.job);
      if (idle) next(idle);
    });

  return {
    hash: (data, cost) => run<string>({ data, cost }),
    compare: (data, hash) => run<boolean>({ data, hash }),
    threads: () => slots.flatMap((s) => (s.thread ? [s.thread] : [])),
    async close() {
      closed = true;
      const gone = new Error("hash workers closed");
      for (const job of queue.splice(0)) job.reject(gone);
      for (const s of slots) s.job?.reject(gone);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
