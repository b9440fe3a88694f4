// Permission write throughput with many concurrent writers (issue 15 §3): WriteRelations as the
// file service writes them for a new file (a parent and an owner tuple), `--writers` callers
// back to back on one replica, against two same-run baselines on the same Postgres:
//   - serial: the same service with ACL_WRITE_BATCH=1 (one transaction per write, as before
//     group commit);
//   - raw: a plain INSERT of the same two tuples in one transaction per write, `--writers`
//     loops over a pool of DATABASE_POOL_SIZE (10) connections, no service in between.
// Rounds are interleaved (raw, serial, group). Prints JSON (for bench/run.mjs, scenario
// `permission-writes`) with notes; run alone:
//   npm run build && node bench/permission-writes.mjs [--seconds 8] [--writers 64] [--rounds 2]
import { parseArgs } from "node:util";
import pg from "pg";
import { devSecrets, ensureDatabase } from "../scripts/lib/dev-env.mjs";
import {
  client,
  ensureBuilt,
  machine,
  percentiles,
  root,
  round,
  stamp,
  startRedis,
  startService,
  unary,
} from "./permission-lib.mjs";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    writers: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
  },
});
const seconds = Number(args.seconds);
const writers = Number(args.writers);
const rounds = Number(args.rounds);
const TUPLES = 2;
// A database of its own: the revisions and tuples written here reach no other mesh.
const DB =
  process.env.BENCH_WRITES_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/filemesh_bench_writes";
const say = (m) => process.stderr.write(`bench: ${m}\n`);

/** `writers` loops calling `op(k)` back to back for `seconds`; writes/s and latency. */
async function drive(op) {
  const until = performance.now() + seconds * 1000;
  const lat = [];
  let errors = 0;
  let k = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await op(k++);
          lat.push(performance.now() - t0);
        } catch (err) {
          errors++;
          if (errors <= 3) say(`error: ${err.message}`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return {
    writes: lat.length,
    errors,
    writesPerSec: round(lat.length / elapsed, 0),
    tupleWritesPerSec: round((TUPLES * lat.length) / elapsed, 0),
    latencyMs: percentiles(lat),
  };
}

ensureBuilt(["auth", "permission"]);
await ensureDatabase(DB);
const redis = await startRedis();
const secrets = devSecrets(root);
const common = { DATABASE_URL: DB, REDIS_URL: redis.url, ...secrets, LOG_LEVEL: "warn" };
const procs = [];
const raw = new pg.Pool({ connectionString: DB, max: 10 });
const out = {
  machine: machine(),
  commands: [`node bench/permission-writes.mjs ${process.argv.slice(2).join(" ")}`.trim()],
  writers,
  seconds,
  tuplesPerWrite: TUPLES,
  rounds: [],
};
try {
  const auth = await startService("auth", common);
  procs.push(auth);
  const env = { ...common, AUTH_ADDRS: auth.addr };
  // BENCH_CPU_PROF=1: a V8 CPU profile of the group-commit replica in bench/results/writes-cpuprof/.
  const prof = process.env.BENCH_CPU_PROF
    ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${root}/bench/results/writes-cpuprof`] }
    : {};
  const group = await startService("permission", env, prof);
  procs.push(group);
  const serial = await startService("permission", { ...env, ACL_WRITE_BATCH: "1" });
  procs.push(serial);
  await raw.query(
    `CREATE TABLE IF NOT EXISTS public.bench_raw_tuples (object text, relation text, subject text,
       PRIMARY KEY (object, relation, subject))`,
  );
  const internal = { "x-filemesh-service": "file", "x-filemesh-internal-token": secrets.INTERNAL_TOKEN };
  const run = stamp.toLowerCase();
  const rel = (tag, k) => [
    {
      object: `file:bw-${run}-${tag}-${k}`,
      relation: "parent",
      subject: `file:bw-${run}-${tag}-folder-${k % 64}`,
    },
    { object: `file:bw-${run}-${tag}-${k}`, relation: "owner", subject: `user:bw-${k % 50}` },
  ];
  const viaService = (svc, tag) => {
    const c = client("permission", svc.addr);
    return (k) =>
      unary(
        c,
        "writeRelations",
        {
          updates: rel(tag, k).map((relation) => ({ operation: "RELATION_OPERATION_TOUCH", relation })),
          request_id: "",
        },
        internal,
      );
  };
  const rawWrite = (tag) => async (k) => {
    const tx = await raw.connect();
    try {
      await tx.query("BEGIN");
      const r = rel(tag, k);
      await tx.query(
        "INSERT INTO public.bench_raw_tuples SELECT * FROM unnest($1::text[], $2::text[], $3::text[])",
        [r.map((x) => x.object), r.map((x) => x.relation), r.map((x) => x.subject)],
      );
      await tx.query("COMMIT");
    } finally {
      tx.release();
    }
  };
  // Warm-up (not recorded): connections, JIT of the hot paths.
  await Promise.all(Array.from({ length: 50 }, (_, k) => viaService(group, "warm")(k)));
  await Promise.all(Array.from({ length: 50 }, (_, k) => viaService(serial, "warms")(k)));
  for (let r = 0; r < rounds; r++) {
    const round = {};
    say(`round ${r + 1}: raw INSERT, one transaction per write`);
    round.raw = await drive(rawWrite(`raw${r}`));
    say(`round ${r + 1}: WriteRelations, ACL_WRITE_BATCH=1 (one transaction per write)`);
    round.serial = await drive(viaService(serial, `serial${r}`));
    say(`round ${r + 1}: WriteRelations, group commit`);
    round.group = await drive(viaService(group, `group${r}`));
    out.rounds.push(round);
    say(
      `round ${r + 1}: tuple writes/s raw ${round.raw.tupleWritesPerSec}, serial ${round.serial.tupleWritesPerSec}, group ${round.group.tupleWritesPerSec}`,
    );
  }
  const best = (k) => Math.max(...out.rounds.map((x) => x[k].tupleWritesPerSec));
  const [g, s, w] = [best("group"), best("serial"), best("raw")];
  const last = out.rounds[out.rounds.length - 1];
  out.notes = [
    `**${g} tuple writes/s** with group commit (${writers} concurrent WriteRelations callers of ${TUPLES} tuples, best of ${rounds} rounds of ${seconds} s), ` +
      `p50 ${last.group.latencyMs.p50} ms, p99 ${last.group.latencyMs.p99} ms, ${last.group.errors} errors`,
    `same run: one transaction per write (ACL_WRITE_BATCH=1) ${s} tuple writes/s (${round(g / s, 1)}× with group commit); ` +
      `raw INSERT, one transaction per write over 10 connections: ${w} tuple writes/s (group commit ${round(g / w, 2)}× of it)`,
  ];
} finally {
  await raw.query("DROP TABLE IF EXISTS public.bench_raw_tuples").catch(() => {});
  await raw.end();
  for (const p of procs.reverse()) await p.stop();
  await redis.stop();
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
