// One scenario: seed, resolve its driver config, warm up, then the measured passes. With
// baselines, the duration is split into `rounds` segments interleaved with baseline segments
// (every baseline runs before the first and after each segment: B, S, B, S, …, B), so load
// drifting on a shared machine hits both sides alike. In-process (kind node) scenarios run
// their script once; it reports its own tables.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { devSecrets } from "../../scripts/lib/dev-env.mjs";
import { GATEWAY_PORT, SERVICES } from "../../scripts/lib/mesh.mjs";
import { compareToBcrypt, durationSeconds, runBcryptLoop } from "./baseline.mjs";
import { bundleEntry } from "./bundle.mjs";
import { run } from "./exec.mjs";
import { ghzRecord, runGhz } from "./ghz.mjs";
import { ensureGoload } from "./goload.mjs";
import { sampleMemory } from "./memory.mjs";
import { startPrivateRedis } from "./private-redis.mjs";
import { endedChildrenCpuMs, since, snapshot } from "./proc-cpu.mjs";
import { loadScenario, resolveScenario } from "./scenarios.mjs";
import { seedToken, seedUsers } from "./seed.mjs";
import { cleanupSeeds, seedFor } from "./seed-files.mjs";
import { seedGraph } from "./seed-graph.mjs";
import { round, summarize } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The token of the run's bench user, made once (seeding it again would end the first's session). */
function tokenOf(ctx) {
  ctx.tokenPromise ??= seedToken({ root: ctx.root, addr: `${ctx.host}:${SERVICES.auth}` });
  return ctx.tokenPromise;
}

/**
 * A load driver for one scenario: { name, call, host, concurrency, ok, config, warmup(),
 * segment(seconds) → segment record }. `direct` forces the service's own port.
 */
async function prepareDriver(scenario, ctx, { direct = false, suffix = "" } = {}) {
  const { name, bench } = scenario;
  const port = SERVICES[bench.service];
  if (!port) throw new Error(`scenario ${name}: unknown service "${bench.service}"`);
  const viaGateway = (bench.via === "gateway" || /^rest-/.test(scenario.ghz.op ?? "")) && !direct;
  const hostPort = /^(go-)?s3-/.test(scenario.ghz.op ?? "")
    ? new URL(ctx.meshEnv?.S3_ENDPOINT ?? "http://minio").host
    : `${ctx.host}:${viaGateway ? GATEWAY_PORT : port}`;
  let data;
  if (bench.seed?.users) {
    const seeded = await seedUsers({ root: ctx.root, addr: `${ctx.host}:${port}`, count: bench.seed.users });
    ctx.log(`${name}: seeded ${bench.seed.users} users (${seeded.created} new)`);
    data = seeded.users;
  }
  let metadata;
  if (bench.seed?.token) metadata = { authorization: `Bearer ${(await tokenOf(ctx)).token}` };
  if (bench.seed?.forwarded) {
    // The token user's call as the file service forwards it (auth/forwarded.ts): its own
    // identity proven by the internal token, the user's verified principal beside it — no JWT
    // to verify and no rate limit (the user was limited where the call came in).
    const u = await tokenOf(ctx);
    const exp = JSON.parse(Buffer.from(u.token.split(".")[1], "base64url").toString()).exp;
    metadata = {
      "x-filemesh-service": "file",
      "x-filemesh-internal-token": devSecrets(ctx.root).INTERNAL_TOKEN,
      "x-filemesh-principal": `v1;${u.userId};${u.sessionId};0;${exp}`,
    };
  }
  if (bench.seed?.graph) {
    // The 2-hop graph for the token user (one per run, shared by the scenarios that ask).
    ctx.graphPromise ??= tokenOf(ctx).then((tokenUser) =>
      seedGraph({ root: ctx.root, host: ctx.host, tokenUser, log: (l) => ctx.log(`${name}: ${l}`) }),
    );
    data = (await ctx.graphPromise).check;
  }
  const { path, config } = resolveScenario({
    scenario,
    root: ctx.root,
    runDir: ctx.runDir,
    host: hostPort,
    data,
    duration: ctx.duration,
    metadata,
    suffix,
  });
  const label = `${name}${suffix}`;
  const common = {
    name: label,
    host: hostPort,
    ok: bench.ok ?? (bench.kind === "http" ? ["200"] : ["OK"]),
    config: ctx.rel(path),
    duration: config.duration,
    warmupDuration: bench.warmup,
  };
  const note = (cmd, extra = "") => ctx.commands.push(`${ctx.shell(cmd)}${extra}`);
  // The serving processes' CPU over each segment (when the runner started the mesh):
  // bench.cpu names them (e.g. file, permission, minio), else the service (and the gateway).
  const pids = Object.fromEntries(
    (bench.cpu ?? [bench.service, ...(viaGateway ? ["gateway"] : [])])
      .filter((n) => ctx.pids?.[n] || (n === "postgres" && ctx.pids))
      .map((n) => [n, n === "postgres" ? "postgres" : ctx.pids[n]]),
  );
  const withCpu = (fn) => async (seconds) => {
    const before = snapshot(pids);
    const rec = await fn(seconds);
    // A driver may report its own CPU (the Node loops: "client").
    return Object.keys(before).length
      ? { ...rec, cpuMs: { ...since(before, snapshot(pids)), ...rec.cpuMs } }
      : rec;
  };

  if (bench.kind === "ghz") {
    const ghz = async (seconds, extra = "") => {
      const out = await runGhz({
        bin: ctx.rel(ctx.ghzBin),
        root: ctx.root,
        config: ctx.rel(path),
        extra:
          seconds === undefined ? [] : ["--duration", typeof seconds === "string" ? seconds : `${seconds}s`],
      });
      note(out.command, extra);
      return ghzRecord(out.report);
    };
    // ghz's own CPU (the client: on this machine it shares the two cores with the server).
    const ghzWithClientCpu = async (seconds) => {
      const before = endedChildrenCpuMs();
      const rec = await ghz(seconds);
      const after = endedChildrenCpuMs();
      return before === undefined || after === undefined
        ? rec
        : { ...rec, cpuMs: { ...rec.cpuMs, client: after - before } };
    };
    return {
      ...common,
      call: config.call,
      concurrency: config.concurrency,
      segment: withCpu(ghzWithClientCpu),
      warmup: () => ghz(bench.warmup, "   # warm-up, not recorded"),
    };
  }

  // The Node load loops (and the Go one of the go-* file ops): one child process per segment.
  let cmd = process.execPath;
  let shown = "node";
  let argv;
  let call;
  let concurrency;
  if (bench.kind === "file") {
    const seeded = await seedFor(ctx, bench.seed?.files ?? {}, name);
    const size = config.size ?? 65536;
    call = `${config.op} ${sizeText(size)}`;
    concurrency = config.concurrency ?? 16;
    argv = ["--op", config.op, "--seed", ctx.rel(seeded.path)];
    if (config.op.startsWith("go-")) {
      // bench/goload: file-loop's argv and record, the project's Go client and minio-go.
      cmd = await ensureGoload(ctx.root);
      shown = ctx.rel(cmd);
      ctx.goloadNoted ??= ctx.commands.push(`bench/goload/build.sh   # builds ${shown} (if changed)`);
    } else argv.unshift("bench/lib/file-loop.mjs");
    argv.push("--addr", `${ctx.host}:${SERVICES.file}`, "--http", `http://${ctx.host}:${GATEWAY_PORT}`);
    argv.push("--concurrency", String(concurrency), "--size", String(size));
    for (const k of ["chunk", "channels", "part-bytes", "window", "upload-window"])
      if (config[k]) argv.push(`--${k}`, String(config[k]));
    // The deletes after the load are not part of it: the loop measures the servers' CPU itself.
    if (config.cleanup) argv.push("--cleanup", "--pids", JSON.stringify(pids));
    if (config.count) argv.push("--count", String(config.count));
  } else if (bench.kind === "http") {
    call = `${config.method ?? "GET"} ${config.path}`;
    concurrency = config.connections ?? 32;
    argv = ["bench/lib/http-loop.mjs", "--url", `http://${hostPort}${config.path}`];
    argv.push("--method", config.method ?? "GET", "--connections", String(concurrency));
    for (const [k, v] of Object.entries(config.metadata ?? {})) argv.push("--header", `${k}: ${v}`);
    if (config.body) argv.push("--body", JSON.stringify(config.body));
  } else {
    call = { health: "grpc.health.v1.Health/Check", refresh: "filemesh.auth.v1.AuthService/Refresh" }[
      config.op
    ];
    if (!call) throw new Error(`scenario ${name}: unknown grpc-loop op "${config.op}"`);
    concurrency = config.concurrency ?? 16;
    argv = ["bench/lib/grpc-loop.mjs", "--addr", hostPort, "--op", config.op];
    argv.push("--concurrency", String(concurrency));
    if (config["data-file"]) argv.push("--users", ctx.rel(config["data-file"]));
  }
  // A loop of a fixed number of calls (--count) ignores the segment's length.
  const loop = async (seconds, extra = "") => {
    const full = config.count ? [...argv] : [...argv, "--seconds", String(seconds)];
    const stdout = await run(cmd, full, { cwd: ctx.root });
    note([shown, ...full], extra);
    return JSON.parse(stdout);
  };
  return {
    ...common,
    call: `${call} (${bench.kind})`,
    concurrency,
    ...(config.count ? { count: config.count } : {}),
    segment: withCpu((seconds) => loop(seconds ?? durationSeconds(config.duration))),
    warmup: () => loop(durationSeconds(bench.warmup), "   # warm-up, not recorded"),
  };
}

const sizeText = (n) =>
  n >= 2 ** 30
    ? `${n / 2 ** 30} GiB`
    : n >= 2 ** 20
      ? `${n / 2 ** 20} MiB`
      : n >= 1024
        ? `${n / 1024} KiB`
        : `${n} B`;

/** A list from `bench.baseline` (a name or a list of names). */
const baselineNames = (b) => (b === undefined ? [] : Array.isArray(b) ? b : [b]);

async function runNodeScenario(scenario, ctx) {
  const { name, bench, ghz: config } = scenario;
  let script = config.script;
  if (script.endsWith(".entry.ts")) {
    script = ctx.rel(await bundleEntry({ root: ctx.root, entry: script, outDir: ctx.runDir }));
    ctx.commands.push(`# ${name}: ${config.script} bundled by bench/lib/bundle.mjs into ${script}`);
  }
  const args = [...(config.args ?? [])];
  // A script that drives the mesh (bench.seed.files): its seed, addresses, settings and pids.
  if (bench.seed?.files) {
    const seeded = await seedFor(ctx, bench.seed.files, name);
    const meshFile = join(ctx.runDir, `${name}.mesh.json`);
    const info = {
      seed: seeded.path,
      fileAddr: `${ctx.host}:${SERVICES.file}`,
      env: ctx.meshEnv ?? {},
      pids: ctx.pids ?? {},
    };
    writeFileSync(meshFile, `${JSON.stringify(info)}\n`, { mode: 0o600 });
    args.push("--mesh", ctx.rel(meshFile));
  }
  let redis;
  if (bench.redis === "private") {
    redis = await startPrivateRedis({ dir: ctx.runDir });
    ctx.commands.push(ctx.shell(redis.argv));
    args.push("--redis-url", redis.url);
  }
  ctx.log(`${name}: ${bench.description ?? script}`);
  try {
    const argv = [script, ...args];
    const stdout = await run(process.execPath, argv, { cwd: ctx.root });
    ctx.commands.push(ctx.shell(["node", ...argv]));
    const out = JSON.parse(stdout);
    for (const n of out.notes ?? []) ctx.log(`${name}:   ${n.replaceAll("**", "")}`);
    return { name, kind: "node", description: bench.description ?? "", script: config.script, ...out };
  } finally {
    await redis?.stop();
  }
}

/**
 * ctx: { root, runDir, rel, shell, ghzBin, host, duration, serviceEnv, cores, log, commands,
 * scenariosDir } (commands is an array the exact commands are appended to, in the order they ran).
 */
export async function runScenario(scenario, ctx) {
  try {
    return scenario.bench.kind === "node"
      ? await runNodeScenario(scenario, ctx)
      : await runLoadScenario(scenario, ctx);
  } finally {
    await cleanupSeeds(ctx); // the file scenarios' users' bench folders
  }
}

async function runLoadScenario(scenario, ctx) {
  const { name, bench } = scenario;
  const names = baselineNames(bench.baseline);
  const main = await prepareDriver(scenario, ctx);
  const alongside = bench.alongside
    ? await prepareDriver(loadScenario(ctx.scenariosDir, bench.alongside), ctx)
    : undefined;
  const bcrypt = names.includes("bcrypt");
  const baselines = [];
  for (const b of names) {
    if (b === "bcrypt") continue;
    if (b === "direct")
      baselines.push(await prepareDriver(scenario, ctx, { direct: true, suffix: ".direct" }));
    else baselines.push(await prepareDriver(loadScenario(ctx.scenariosDir, b), ctx));
  }
  // With load alongside, this scenario alone is the baseline.
  if (alongside) baselines.unshift({ ...main, name: `${main.name} alone` });

  // The serving processes' own background CPU (relays, timers, metrics), idle for 2 s: it
  // matters next to CPU per call only at low call rates (logins).
  let idleCpuMsPerSec;
  if (ctx.pids?.[bench.service]) {
    const pid = { [bench.service]: ctx.pids[bench.service] };
    const before = snapshot(pid);
    await sleep(2000);
    idleCpuMsPerSec = round(since(before, snapshot(pid))[bench.service] / 2, 1);
  }
  // bench.memory names a service whose memory is sampled: idle for 2 s now, then during each
  // measured segment.
  let memory;
  if (bench.memory) {
    const pid = ctx.pids?.[bench.memory];
    if (!pid) throw new Error(`scenario ${name}: bench.memory needs the mesh the runner starts`);
    const metricsUrl = `http://${ctx.host}:${SERVICES[bench.memory] + 1000}/metrics`;
    const sampler = () => sampleMemory({ pid, metricsUrl });
    const idle = sampler();
    await sleep(2000);
    memory = { service: bench.memory, idle: await idle.stop(), segments: [] };
    const plain = main.segment;
    main.segment = async (seconds) => {
      const during = sampler();
      const rec = await plain(seconds);
      memory.segments.push(await during.stop());
      return rec;
    };
  }
  for (const d of [main, ...baselines.filter((b) => b.segment !== main.segment)]) {
    if (d.warmupDuration) {
      ctx.log(`${d.name}: warm-up ${d.warmupDuration}`);
      await d.warmup();
    }
  }

  const interleaved = bcrypt || baselines.length > 0;
  const rounds = interleaved ? (ctx.rounds ?? bench.rounds ?? 3) : 1;
  const segment = Math.round((durationSeconds(main.duration) * 1000) / rounds) / 1000;
  const raw = [];
  const baseSegments = baselines.map(() => []);
  const betweenSegments = async () => {
    if (bcrypt) {
      const { result, command } = await runBcryptLoop({
        root: ctx.root,
        cost: ctx.serviceEnv.BCRYPT_COST,
        concurrency: ctx.meshEnv?.HASH_CONCURRENCY ?? ctx.serviceEnv.HASH_CONCURRENCY,
        seconds: segment,
      });
      ctx.commands.push(ctx.shell(command));
      ctx.log(`${name}:   raw bcrypt ${result.rps} rps (one hash p50 ${result.single.latencyMs.p50} ms)`);
      raw.push(result);
    }
    for (const [i, b] of baselines.entries()) {
      const rec = await b.segment(segment);
      baseSegments[i].push(rec);
      ctx.log(`${name}:   ${b.name} ${summarize([rec], b.ok).rps} rps`);
    }
  };
  const lead = bench.alongsideLead ?? 1;
  const tail = 0.5;
  const measured = async () => {
    if (!alongside) return main.segment(rounds > 1 ? segment : undefined);
    // The load starts first (so the measured calls meet a saturated service) and ends last.
    const load = alongside.segment(lead + segment + tail);
    await sleep(lead * 1000);
    const { cpuMs, ...rec } = await main.segment(segment); // the process's CPU is mostly the load's
    alongsideSegments.push(await load);
    return rec;
  };
  const alongsideSegments = [];

  const what = `${main.call}, concurrency ${main.concurrency}, via ${main.host}`;
  const length = main.count ? `${main.count} calls per segment` : main.duration;
  const against = [...(bcrypt ? ["raw bcrypt"] : []), ...baselines.map((b) => b.name)];
  ctx.log(
    `${name}: ${what}, ${length}` +
      (rounds > 1 ? ` in ${rounds} rounds between ${against.join(" + ")}` : "") +
      (alongside
        ? ` while ${alongside.name} (${alongside.call}, concurrency ${alongside.concurrency}) runs`
        : ""),
  );
  if (interleaved) await betweenSegments();
  const segments = [];
  for (let i = 0; i < rounds; i++) {
    segments.push(await measured());
    if (rounds > 1) ctx.log(`${name}:   ${summarize(segments.slice(-1), main.ok).rps} rps`);
    if (interleaved) await betweenSegments();
  }
  const result = summarize(segments, main.ok);
  ctx.log(`${name}: ${result.rps} rps, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
  const entry = {
    name,
    kind: bench.kind,
    description: bench.description ?? "",
    call: main.call,
    host: main.host,
    concurrency: main.concurrency,
    config: main.config,
    result,
    ...(idleCpuMsPerSec !== undefined ? { idleCpuMsPerSec } : {}),
    ...(memory ? { memory } : {}),
  };
  const perRound = segments.map((s) => summarize([s], main.ok));
  if (baselines.length) {
    entry.comparisons = baselines.map((b, i) => {
      const segs = baseSegments[i];
      const base = summarize(segs, b.ok);
      const rps = segs.map((s) => summarize([s], b.ok).rps);
      const mibps = segs.map((s) => summarize([s], b.ok).mibPerSec ?? 0);
      const ratio = (x, y) => (x && y ? round(x / y) : null);
      return {
        baseline: {
          name: b.name,
          call: b.call,
          host: b.host,
          concurrency: b.concurrency,
          config: b.config,
          result: base,
        },
        rounds: perRound.map((s, r) => {
          const around = (rps[r] + rps[r + 1]) / 2;
          const mib = s.mibPerSec !== undefined ? (mibps[r] + mibps[r + 1]) / 2 : undefined;
          return {
            rps: s.rps,
            baselineRps: round(around, 1),
            ratio: ratio(s.rps, around),
            ...(mib !== undefined ? { mibPerSec: s.mibPerSec, mibPerSecRatio: ratio(s.mibPerSec, mib) } : {}),
          };
        }),
        ratio: {
          rps: ratio(result.rps, base.rps),
          p50: ratio(result.latencyMs.p50, base.latencyMs.p50),
          p99: ratio(result.latencyMs.p99, base.latencyMs.p99),
          ...(result.mibPerSec !== undefined && base.mibPerSec
            ? { mibPerSec: ratio(result.mibPerSec, base.mibPerSec) }
            : {}),
          ...(result.cpuUsPerCall && base.cpuUsPerCall
            ? {
                cpuPerCall: Object.fromEntries(
                  Object.keys(result.cpuUsPerCall)
                    .filter((k) => base.cpuUsPerCall[k])
                    .map((k) => [k, ratio(result.cpuUsPerCall[k], base.cpuUsPerCall[k])]),
                ),
              }
            : {}),
        },
      };
    });
    for (const c of entry.comparisons) {
      const mibps = c.ratio.mibPerSec !== undefined ? `; MiB/s ${c.ratio.mibPerSec} ×` : "";
      ctx.log(
        `${name}: ${c.ratio.rps} × ${c.baseline.name} rps; p50 ${c.ratio.p50} ×, p99 ${c.ratio.p99} ×${mibps}`,
      );
    }
  }
  if (alongside) {
    entry.alongside = {
      name: alongside.name,
      call: alongside.call,
      host: alongside.host,
      concurrency: alongside.concurrency,
      config: alongside.config,
      lead,
      seconds: lead + segment + tail,
      result: summarize(alongsideSegments, alongside.ok),
      perSegment: alongsideSegments.map((r) => {
        const x = summarize([r], alongside.ok);
        return { statusCodes: x.statusCodes, byStatus: x.byStatus };
      }),
    };
    entry.perSegment = perRound.map((x) => ({ rps: x.rps, latencyMs: x.latencyMs }));
  }
  if (!bcrypt) return entry;
  const compared = compareToBcrypt({
    result,
    concurrency: main.concurrency,
    segments: perRound,
    raw,
    cores: ctx.cores,
  });
  ctx.log(
    `${name}: ${compared.ratio.rps} × raw bcrypt rps; p50 ${compared.ratio.p50VsSingleHash} × one hash`,
  );
  return { ...entry, ...compared };
}
