// One scenario: seed, resolve its ghz config, warm up, then the measured passes. With a
// baseline, the duration is split into `rounds` ghz segments interleaved with raw segments.
import { SERVICES } from "../../scripts/lib/mesh.mjs";
import { compareToBcrypt, durationSeconds, runBcryptLoop } from "./baseline.mjs";
import { runGhz, summarize } from "./ghz.mjs";
import { resolveScenario } from "./scenarios.mjs";
import { seedUsers } from "./seed.mjs";

/**
 * ctx: { root, runDir, rel, shell, ghzBin, host, duration, serviceEnv, cores, log, commands }
 * (commands is an array the exact commands are appended to, in the order they ran).
 */
export async function runScenario(scenario, ctx) {
  const { name, bench } = scenario;
  const port = SERVICES[bench.service];
  if (!port) throw new Error(`scenario ${name}: unknown service "${bench.service}"`);
  if (bench.baseline && bench.baseline !== "bcrypt") {
    throw new Error(`scenario ${name}: unknown baseline "${bench.baseline}"`);
  }
  const host = `${ctx.host}:${port}`;
  let data;
  if (bench.seed?.users) {
    const seeded = await seedUsers({ root: ctx.root, addr: host, count: bench.seed.users });
    ctx.log(`${name}: seeded ${bench.seed.users} users (${seeded.created} new)`);
    data = seeded.users;
  }
  const resolved = resolveScenario({
    scenario,
    root: ctx.root,
    runDir: ctx.runDir,
    host,
    data,
    duration: ctx.duration,
  });
  const { config } = resolved;
  const ghz = async (extra, note = "") => {
    const out = await runGhz({
      bin: ctx.rel(ctx.ghzBin),
      root: ctx.root,
      config: ctx.rel(resolved.path),
      extra,
    });
    ctx.commands.push(`${ctx.shell(out.command)}${note}`);
    return out.report;
  };
  if (bench.warmup) {
    ctx.log(`${name}: warm-up ${bench.warmup}`);
    await ghz(["--duration", bench.warmup], "   # warm-up, not recorded");
  }

  const rounds = bench.baseline ? (bench.rounds ?? 3) : 1;
  const segment = Math.round((durationSeconds(config.duration) * 1000) / rounds) / 1000;
  const raw = [];
  const rawSegment = async () => {
    const { result, command } = await runBcryptLoop({
      root: ctx.root,
      cost: ctx.serviceEnv.BCRYPT_COST,
      concurrency: ctx.serviceEnv.HASH_CONCURRENCY,
      seconds: segment,
    });
    ctx.commands.push(ctx.shell(command));
    ctx.log(`${name}:   raw bcrypt ${result.rps} rps (one hash p50 ${result.single.latencyMs.p50} ms)`);
    raw.push(result);
  };
  const what = `${config.call}, concurrency ${config.concurrency}`;
  ctx.log(
    `${name}: ${what}, ${config.duration}${rounds > 1 ? ` in ${rounds} rounds between raw bcrypt runs` : ""}`,
  );
  if (bench.baseline) await rawSegment();
  const reports = [];
  for (let i = 0; i < rounds; i++) {
    reports.push(await ghz(rounds > 1 ? ["--duration", `${segment}s`] : []));
    if (rounds > 1) ctx.log(`${name}:   ${summarize(reports.slice(-1)).rps} rps`);
    if (bench.baseline) await rawSegment();
  }
  const result = summarize(reports);
  ctx.log(`${name}: ${result.rps} rps, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`);
  const entry = {
    name,
    description: bench.description ?? "",
    call: config.call,
    host,
    concurrency: config.concurrency,
    config: ctx.rel(resolved.path),
    result,
  };
  if (!bench.baseline) return entry;
  const perRound = reports.map((r) => summarize([r]));
  const compared = compareToBcrypt({
    result,
    concurrency: config.concurrency,
    segments: perRound,
    raw,
    cores: ctx.cores,
  });
  ctx.log(
    `${name}: ${compared.ratio.rps} × raw bcrypt rps; p50 ${compared.ratio.p50VsSingleHash} × one hash`,
  );
  return { ...entry, ...compared };
}
