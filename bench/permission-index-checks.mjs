// In-process check time on a loaded index: the mean over a million checks of each kind, and
// per-call percentiles from individually timed calls (hrtime adds a few tens of ns to each).
import { DEFAULTS, fileRef, graph, rng, userRef } from "./permission-graph.mjs";
import { round } from "./permission-lib.mjs";

const PERMS = ["read", "write", "share", "delete"];

/**
 * What one Map.get on a map of 500K UUID-shaped keys costs here, right now (random keys, the
 * same loop): the unit to read the check times against on a shared, noisy machine.
 */
export function mapGetNs() {
  const m = new Map();
  for (let i = 0; i < 500_000; i++) m.set(fileRef(i), { i });
  const r = rng(9);
  const keys = Array.from({ length: 10_000 }, () => fileRef(Math.floor(r() * 500_000)));
  let x = 0;
  for (let i = 0; i < 200_000; i++) x += m.get(keys[i % keys.length]).i;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1_000_000; i++) x += m.get(keys[i % keys.length]).i;
  return { meanNs: Math.round(Number(process.hrtime.bigint() - t0) / 1_000_000), checksum: x > 0 };
}

export function checkFigures(index, shape = DEFAULTS) {
  const facts = {};
  for (const _ of graph(shape, facts));
  const r = rng(7);
  const int = (n) => Math.floor(r() * n);
  const kinds = [
    {
      name: "owner reads a file at depth 8 (walks 8 parents)",
      sample: () => {
        const f = facts.deepest[int(facts.deepest.length)];
        return [userRef(facts.ownerOf[f]), fileRef(f), "read"];
      },
    },
    {
      name: "random user, random file, random permission",
      sample: () => [userRef(int(shape.users)), fileRef(int(facts.files)), PERMS[int(4)]],
    },
  ];
  const now = Date.now();
  return kinds.map(({ name, sample }) => {
    const items = Array.from({ length: 10_000 }, sample);
    let allowed = 0;
    for (const [s, f, p] of items) if (index.check(s, f, p, now)) allowed++;
    // Warm-up, then the timed loop.
    for (let i = 0; i < 200_000; i++) {
      const [s, f, p] = items[i % items.length];
      index.check(s, f, p, now);
    }
    const n = 1_000_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const [s, f, p] = items[i % items.length];
      index.check(s, f, p, now);
    }
    const meanNs = Number(process.hrtime.bigint() - t0) / n;
    const each = new Float64Array(200_000);
    for (let i = 0; i < each.length; i++) {
      const [s, f, p] = items[i % items.length];
      const a = process.hrtime.bigint();
      index.check(s, f, p, now);
      each[i] = Number(process.hrtime.bigint() - a);
    }
    each.sort();
    return {
      name,
      allowedShare: `${round((100 * allowed) / items.length, 1)} %`,
      meanNs: Math.round(meanNs),
      p50Ns: each[each.length >> 1],
      p99Ns: each[Math.floor(each.length * 0.99)],
      maxNs: each[each.length - 1],
    };
  });
}
