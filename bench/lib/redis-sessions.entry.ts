// Redis memory for N live sessions, written with the auth service's own createSession (so the
// layout is exactly production's: the session hash, the user's session index and the refresh
// token key, each with its TTL), in a private Redis (--redis-url) measured with INFO memory
// before and after. Then the session check under load: the kit's TOUCH script through
// createSessionChecker with the cache off (what a cache miss costs), on random live sessions,
// `--concurrency` calls in flight over `--connections` connections, alternating with a
// baseline of the same load doing EXISTS on the same keys (the cheapest possible lookup).
// Prints { tables, notes, figures } as JSON.
//   node <bundle>.mjs --redis-url redis://127.0.0.1:PORT --sessions 100000 --per-user 1,4 \
//        --seconds 8 --concurrency 64 --connections 4
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { createSession } from "../../services/auth/src/store/sessions.ts";
import { createSessionChecker, sessionKey } from "../../services/kit/src/auth/session-keys.ts";
import { latencyStats, round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    "redis-url": { type: "string" },
    sessions: { type: "string", default: "100000" },
    // Extra fills of --sample-sessions each, scaled to --sessions: "<per user>:<ua|short>[:lp256]"
    // (lp256: with CONFIG SET hash-max-listpack-value 256, so the browser UA stays listpack).
    variants: { type: "string", default: "4:ua,1:short,1:ua:lp256" },
    "sample-sessions": { type: "string", default: "10000" },
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "64" },
    connections: { type: "string", default: "4" },
  },
});
const url = values["redis-url"]!;
const total = Number(values.sessions);
const sample = Number(values["sample-sessions"]);
const variants = values
  .variants!.split(",")
  .filter(Boolean)
  .map((v) => {
    const [perUser, ua, lp] = v.split(":");
    return { perUser: Number(perUser), shortUa: ua === "short", listpack256: lp === "lp256" };
  });
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const sliceMs = (Number(values.seconds) * 1000) / rounds;

// A realistic session: a browser user agent (auth keeps up to 256 characters) and an IPv4
// address; the short one (≤ 64 bytes, Redis' default hash-max-listpack-value) shows what the
// hash encoding does to the size.
const SHORT_UA = "filemesh-cli/1.4.2 (linux; x64)";
const UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const settings = { idleMs: 7 * 86_400_000, absoluteMs: 30 * 86_400_000 }; // the service defaults
const admin = new Redis(url);

const info = async () => {
  const text = await admin.info("memory");
  const get = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(text)?.[1]);
  return { used: get("used_memory"), rss: get("used_memory_rss"), dataset: get("used_memory_dataset") };
};

async function fill(total: number, perUser: number, shortUa: boolean, listpack256 = false) {
  await admin.flushall();
  await admin.config("SET", "hash-max-listpack-value", listpack256 ? "256" : "64");
  await new Promise((r) => setTimeout(r, 200));
  const before = await info();
  const users = Array.from({ length: Math.ceil(total / perUser) }, () => randomUUID());
  const sids: { sid: string; uid: string }[] = [];
  let next = 0;
  const writer = new Redis(url, { enableAutoPipelining: true });
  const t = performance.now();
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < total) {
        const i = next++;
        const uid = users[i % users.length]!;
        const ip = `203.0.${(i >> 8) & 255}.${i & 255}`;
        const s = await createSession(writer, settings, {
          userId: uid,
          userAgent: shortUa ? SHORT_UA : UA,
          clientAddress: ip,
        });
        sids.push({ sid: s.sessionId, uid });
      }
    }),
  );
  const fillMs = performance.now() - t;
  await writer.quit();
  const after = await info();
  const sample = sids[0]!;
  const usage = async (key: string) => Number(await admin.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
  const rtKey = (await admin.hget(sessionKey(sample.sid), "rth"))!;
  return {
    sessions: total,
    perUser,
    userAgentBytes: (shortUa ? SHORT_UA : UA).length,
    encoding: `${await admin.object("ENCODING", sessionKey(sample.sid))}${listpack256 ? " (value max 256)" : ""}`,
    users: users.length,
    keys: await admin.dbsize(),
    fillSeconds: round(fillMs / 1000, 1),
    before,
    after,
    usedDelta: after.used - before.used,
    rssDelta: after.rss - before.rss,
    bytesPerSession: round((after.used - before.used) / total, 0),
    memoryUsage: {
      sessionHash: await usage(sessionKey(sample.sid)),
      userIndex: await usage(`fm:usess:${sample.uid}`),
      refreshKey: await usage(`fm:rt:${rtKey}`),
    },
    sids,
  };
}

const MiB = (b: number) => round(b / 2 ** 20, 1);
// The extra fills first, so the full one stays for the load test.
const fills = [];
for (const v of variants) fills.push(await fill(sample, v.perUser, v.shortUa, v.listpack256));
const last = await fill(total, 1, false);
fills.unshift(last);

// Load on the last fill's sessions: TOUCH (what a session-cache miss runs) vs EXISTS.
const clients = Array.from({ length: connections }, () => new Redis(url, { enableAutoPipelining: true }));
const checkers = clients.map((c) => createSessionChecker(c, settings.idleMs, 0));
const pick = () => last.sids[Math.floor(Math.random() * last.sids.length)]!;
const loads: Record<string, (w: number) => Promise<unknown>> = {
  "TOUCH (session check, cache miss)": async (w) => {
    const s = pick();
    if (!(await checkers[w % connections]!.isLive(s.sid, s.uid))) throw new Error("session not live");
  },
  "EXISTS (baseline)": (w) => clients[w % connections]!.exists(sessionKey(pick().sid)),
};
const samples: Record<string, { lat: number[]; ms: number }> = {};
for (const fn of Object.values(loads))
  await Promise.all(Array.from({ length: concurrency }, (_, w) => fn(w)));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of r % 2 ? Object.entries(loads).reverse() : Object.entries(loads)) {
    samples[name] ??= { lat: [], ms: 0 };
    const acc = samples[name]!;
    const start = performance.now();
    const end = start + sliceMs;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        while (performance.now() < end) {
          const t = performance.now();
          await fn(w);
          const done = performance.now();
          if (done > end) break;
          acc.lat.push(done - t);
        }
      }),
    );
    acc.ms += sliceMs;
  }
}
for (const c of clients) await c.quit();
await admin.quit();

const loadRows = Object.entries(samples).map(([name, s]) => {
  const st = latencyStats(s.lat);
  return [name, s.lat.length, round(s.lat.length / (s.ms / 1000), 0), st.p50, st.p95, st.p99];
});
const figures = {
  sessions: total,
  fills: fills.map(({ sids, ...f }) => f),
  load: Object.fromEntries(
    Object.entries(samples).map(([n, s]) => [
      n,
      { count: s.lat.length, rps: round(s.lat.length / (s.ms / 1000), 0), ms: latencyStats(s.lat) },
    ]),
  ),
};
const touch = figures.load["TOUCH (session check, cache miss)"]!;
const exists = figures.load["EXISTS (baseline)"]!;
process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title: `Redis memory for ${total} live sessions (createSession layout, INFO memory before/after, redis ${
          (await new Redis(url)
            .info("server")
            .then((t) => /redis_version:(\S+)/.exec(t)?.[1])
            .catch(() => "?")) ?? "?"
        })`,
        header: [
          "sessions",
          "per user",
          "user agent B",
          "hash encoding",
          "users",
          "keys",
          "used_memory Δ MiB",
          `… scaled to ${total}`,
          "bytes / session",
          "RSS Δ MiB",
          "MEMORY USAGE hash / index / refresh B",
          "fill s",
        ],
        rows: fills.map((f) => [
          f.sessions,
          f.perUser,
          f.userAgentBytes,
          f.encoding,
          f.users,
          f.keys,
          MiB(f.usedDelta),
          MiB((f.usedDelta * total) / f.sessions),
          f.bytesPerSession,
          MiB(f.rssDelta),
          `${f.memoryUsage.sessionHash} / ${f.memoryUsage.userIndex} / ${f.memoryUsage.refreshKey}`,
          f.fillSeconds,
        ]),
      },
      {
        title: `Session check under load: ${concurrency} in flight over ${connections} connections, random sessions of ${total}, ${rounds} alternating slices`,
        header: ["command", "calls", "rps", "p50 ms", "p95 ms", "p99 ms"],
        rows: loadRows,
      },
    ],
    notes: [
      `${total} live sessions (one per user, browser user agent) take **${MiB(last.usedDelta)} MiB** of used_memory ` +
        `(${last.bytesPerSession} B each, ${last.keys} keys; RSS +${MiB(last.rssDelta)} MiB); other rows are ${sample}-session fills scaled linearly`,
      `TOUCH p99 **${touch.ms.p99} ms** at ${touch.rps} checks/s (EXISTS on the same load: p99 ${exists.ms.p99} ms at ${exists.rps}/s; ` +
        `p99 ratio ${round(touch.ms.p99! / exists.ms.p99!, 2)}); the client (one Node process) is the likely bottleneck, not Redis`,
    ],
    figures,
  })}\n`,
);
process.exit(0);
