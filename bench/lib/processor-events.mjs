// The processor scenario (issue 7), against the runner's private mesh (FILES_READY_ON_COMMIT=
// false, so every upload waits in PROCESSING for the processor): small uploads through
// outbox → relay → JetStream → processor → SetFileState, in rounds of three interleaved parts:
//   raw   the same NATS without the mesh: messages of an upload event's size published with a
//         message id (as the relay does) and consumed by pull consumers that ack each one (as
//         the processor does, same number of loops): the transport's ceiling
//   on    `--concurrency` uploaders for `--seconds` with the processor running; then the wait
//         until every upload is final: uploads/s committed, events/s made final, commit → final
//         (jobs.upload_results: the event's occur time → the processor's record) and commit →
//         published (files.outbox) per upload
//   off   the same uploads with the processor paused (SIGSTOP): the commit rate alone; then
//         SIGCONT and the backlog's drain: the processor's own capacity, uploads not competing
// Prints { tables, notes, figures } (bench/lib/run-scenario.mjs, kind node).
//   node bench/lib/processor-events.mjs --mesh bench/results/<stamp>/processor-events.mesh.json
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { bearer, fileClients, uploadFile } from "./file-client.mjs";
import { since, snapshot } from "./proc-cpu.mjs";
import { latencyStats, round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    mesh: { type: "string" },
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    size: { type: "string", default: "1024" },
    "raw-messages": { type: "string", default: "3000" },
    "raw-loops": { type: "string", default: "" },
    "final-timeout": { type: "string", default: "180" },
    root: { type: "string", default: process.cwd() },
  },
});
const mesh = JSON.parse(readFileSync(values.mesh, "utf8"));
const seed = JSON.parse(readFileSync(mesh.seed, "utf8"));
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const size = Number(values.size);
const pipeline = Number(values["raw-loops"] || mesh.env.PIPELINE_CONCURRENCY || 4);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pool = new pg.Pool({ connectionString: mesh.env.DATABASE_URL, max: 2 });
const [client] = fileClients(values.root, mesh.fileAddr);
const mds = seed.users.map((u) => bearer(u.token));
const block = randomBytes(Math.max(size, 1));
const pids = { processor: mesh.pids.processor, file: mesh.pids.file };
const allFinalMs = [];
const allRelayMs = [];

/** Uploads for `seconds`; resolves with the committed files and the commit rate. */
async function uploads(tag) {
  const files = [];
  const errors = {};
  const lat = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let i = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const n = i++;
      const u = n % seed.users.length;
      const t = performance.now();
      try {
        const f = await uploadFile(client, mds[u], {
          parentId: seed.users[u].folderId,
          name: `p-${tag}-${n}`,
          block,
          size,
          chunk: 64 << 10,
        });
        files.push(f.id);
        lat.push(performance.now() - t);
      } catch (err) {
        const m = (err.details ?? err.message).slice(0, 200);
        errors[m] = (errors[m] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - start) / 1000;
  return { files, errors, wall, perSecond: round(files.length / wall, 1), uploadMs: latencyStats(lat) };
}

/** Resolves with the time (performance.now()) at which every file had its processor record. */
async function allFinal(files) {
  const until = performance.now() + Number(values["final-timeout"]) * 1000;
  for (;;) {
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM jobs.upload_results WHERE file_id = ANY($1::uuid[])",
      [files],
    );
    if (rows[0].n >= files.length) return performance.now();
    if (performance.now() > until) throw new Error(`only ${rows[0].n} of ${files.length} uploads final`);
    await sleep(50);
  }
}

/** Commit → final and commit → published per upload, and the final states. */
async function timings(files) {
  const { rows } = await pool.query(
    `SELECT r.state,
            extract(epoch FROM r.finish_time - r.commit_time) * 1000 AS final_ms,
            extract(epoch FROM o.published_at - o.created_at) * 1000 AS relay_ms
       FROM jobs.upload_results r LEFT JOIN files.outbox o ON o.id = r.event_id
      WHERE r.file_id = ANY($1::uuid[])`,
    [files],
  );
  const states = {};
  for (const r of rows) states[r.state] = (states[r.state] ?? 0) + 1;
  const finalList = rows.map((r) => Number(r.final_ms));
  const relayList = rows.filter((r) => r.relay_ms !== null).map((r) => Number(r.relay_ms));
  allFinalMs.push(...finalList);
  allRelayMs.push(...relayList);
  return { states, finalMs: latencyStats(finalList), relayMs: latencyStats(relayList) };
}

async function processorOn(r) {
  const before = snapshot(pids);
  const start = performance.now();
  const up = await uploads(`on${r}`);
  const done = await allFinal(up.files);
  const cpu = since(before, snapshot(pids));
  return {
    ...up,
    finalPerSecond: round3(up.files.length / ((done - start) / 1000)),
    tailSeconds: round3((done - start) / 1000 - up.wall),
    cpuMsPerUpload: perUpload(cpu, up.files.length),
    ...(await timings(up.files)),
  };
}

async function processorOff(r) {
  process.kill(pids.processor, "SIGSTOP");
  let up;
  try {
    up = await uploads(`off${r}`);
  } finally {
    process.kill(pids.processor, "SIGCONT");
  }
  const before = snapshot(pids);
  const resumed = performance.now();
  const done = await allFinal(up.files);
  const cpu = since(before, snapshot(pids));
  return {
    ...up,
    drainPerSecond: round3(up.files.length / ((done - resumed) / 1000)),
    drainCpuMsPerEvent: perUpload(cpu, up.files.length),
  };
}

const round3 = (x) => round(x, 1);
const perUpload = (cpu, n) =>
  Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, n ? round(ms / n, 2) : null]));

/** The raw JetStream part: publish with message ids, consume with `pipeline` ack-waiting loops. */
async function raw(nc, r) {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = "BENCH_RAW";
  await jsm.streams.delete(stream).catch(() => {});
  await jsm.streams.add({ name: stream, subjects: ["bench.raw.>"], duplicate_window: 120e9 });
  const durable = `bench-raw-${r}`;
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: "explicit", deliver_policy: "all" });
  const total = Number(values["raw-messages"]);
  const payload = randomBytes(300); // about a FileUploaded event with its meta
  const sent = new Map();
  const lat = [];
  let acked = 0;
  const consumer = await js.consumers.get(stream, durable);
  // As the processor's workers: `pipeline` loops of a pull consumer holding 2 messages each,
  // every message acknowledged (and the acknowledgement confirmed) before the next.
  let finished;
  const allAcked = new Promise((r) => (finished = r));
  const loops = [];
  for (let l = 0; l < pipeline; l++) loops.push(await consumer.consume({ max_messages: 2 }));
  const start = performance.now();
  for (const messages of loops) {
    (async () => {
      for await (const m of messages) {
        await m.ackAck();
        lat.push(performance.now() - sent.get(m.headers?.get("Nats-Msg-Id")));
        if (++acked >= total) finished();
      }
    })().catch(() => {});
  }
  // The relay publishes one event at a time with its id, awaiting each acknowledgement.
  for (let i = 0; i < total; i++) {
    const id = `${r}-${i}-${randomBytes(4).toString("hex")}`;
    sent.set(id, performance.now());
    await js.publish(`bench.raw.${i % 8}`, payload, { msgID: id });
  }
  const published = performance.now();
  await Promise.race([allAcked, sleep(60_000)]);
  const done = performance.now();
  for (const messages of loops) await messages.close();
  await jsm.streams.delete(stream).catch(() => {});
  return {
    messages: acked,
    publishPerSecond: round3(total / ((published - start) / 1000)),
    perSecond: round3(acked / ((done - start) / 1000)),
    publishToAckMs: latencyStats(lat),
  };
}

const nc = await connect({ servers: mesh.env.NATS_URL });
const rounds = [];
for (let r = 0; r < Number(values.rounds); r++) {
  rounds.push({ raw: await raw(nc, r), on: await processorOn(r), off: await processorOff(r) });
}
await nc.close();
await pool.end();
client.close();

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const pooled = (k, f) => {
  const xs = rounds.map((r) => r[k]);
  return f(xs);
};
const files = pooled("on", (xs) => sum(xs.map((x) => x.files.length)));
const onWall = pooled("on", (xs) => sum(xs.map((x) => x.wall)));
const onFinal = pooled("on", (xs) => sum(xs.map((x) => x.wall + x.tailSeconds)));
const offFiles = pooled("off", (xs) => sum(xs.map((x) => x.files.length)));
const offWall = pooled("off", (xs) => sum(xs.map((x) => x.wall)));
const drainSeconds = pooled("off", (xs) => sum(xs.map((x) => x.files.length / x.drainPerSecond)));
const rawRate = round3(
  sum(rounds.map((r) => r.raw.messages)) / sum(rounds.map((r) => r.raw.messages / r.raw.perSecond)),
);
const figures = {
  uploadsPerSecondProcessorOn: round3(files / onWall),
  finalPerSecond: round3(files / onFinal),
  uploadsPerSecondProcessorOff: round3(offFiles / offWall),
  drainPerSecond: round3(offFiles / drainSeconds),
  rawJetStreamPerSecond: rawRate,
  commitToFinalMs: latencyStats(allFinalMs),
  commitToPublishedMs: latencyStats(allRelayMs),
  ratio: {
    finalVsCommit: round(files / onFinal / (files / onWall)),
    commitOnVsOff: round(files / onWall / (offFiles / offWall)),
    drainVsRaw: round(offFiles / drainSeconds / rawRate),
    finalVsRaw: round(files / onFinal / rawRate),
  },
};
const l3 = (x) => `${x.p50?.toFixed(0)} / ${x.p90?.toFixed(0)} / ${x.p99?.toFixed(0)}`;
const cpuText = (o) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
const errs = rounds.flatMap((r) => [...Object.entries(r.on.errors), ...Object.entries(r.off.errors)]);
process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title: `Per round (${concurrency} uploaders × ${seconds} s of ${size}-byte UploadFile, ${seed.users.length} users; raw: ${values["raw-messages"]} messages, ${pipeline} consumer loops)`,
        header: [
          "round",
          "raw JetStream msg/s (publish msg/s)",
          "on: uploads/s",
          "on: final/s",
          "on: commit → final p50 / p90 / p99 ms",
          "on: commit → published p50 / p90 / p99 ms",
          "on: states",
          "off: uploads/s",
          "off: drain events/s",
          "CPU ms per upload on (drain)",
        ],
        rows: rounds.map((r, i) => [
          i + 1,
          `${r.raw.perSecond} (${r.raw.publishPerSecond})`,
          r.on.perSecond,
          r.on.finalPerSecond,
          l3(r.on.finalMs),
          l3(r.on.relayMs),
          cpuText(r.on.states),
          r.off.perSecond,
          r.off.drainPerSecond,
          `${cpuText(r.on.cpuMsPerUpload)} (processor ${r.off.drainCpuMsPerEvent.processor})`,
        ]),
      },
    ],
    notes: [
      `pooled: **${figures.finalPerSecond} events/s** made final while uploading at ${figures.uploadsPerSecondProcessorOn} uploads/s (final / commit = ${figures.ratio.finalVsCommit}); uploads with the processor paused ${figures.uploadsPerSecondProcessorOff}/s (on / off = **${figures.ratio.commitOnVsOff}**); the paused backlog drained at **${figures.drainPerSecond} events/s** = **${figures.ratio.drainVsRaw} ×** raw JetStream publish→ack (${rawRate} msg/s, same NATS, ${pipeline} loops)`,
      `all rounds with the processor running: commit → final p50 / p90 / p99 **${l3(figures.commitToFinalMs)} ms**, commit → published (relay) ${l3(figures.commitToPublishedMs)} ms`,
      ...(errs.length ? [`upload errors: ${errs.map(([m, n]) => `${n}× ${m}`).join("; ")}`] : []),
    ],
    figures: {
      ...figures,
      rounds: rounds.map(({ raw, on, off }) => ({
        raw,
        on: { ...on, files: on.files.length },
        off: { ...off, files: off.files.length },
      })),
    },
  })}\n`,
);
process.exit(0);
