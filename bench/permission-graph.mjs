// A deterministic ACL graph for the 1M-tuple index figures: 100K users, 10K groups nested
// three levels deep, a home folder per user with files below it up to depth 8, and shares
// to users and groups (some expiring). Ids are UUID-shaped like the real ones.

/** mulberry32: small, fast, seeded. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uuid = (kind, n) => `${kind}0000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
export const userRef = (i) => `user:${uuid(1, i)}`;
export const groupRef = (i) => `group:${uuid(2, i)}`;
export const fileRef = (i) => `file:${uuid(3, i)}`;

export const DEFAULTS = { users: 100_000, groups: 10_000, filesPerUser: 3.9, sharesPerUser: 2, seed: 42 };

/**
 * Yields [object, relation, subject, expireAtMs] in write order (groups first, then homes,
 * files, shares), and fills `facts` with what the check figures sample from.
 */
export function* graph(o = DEFAULTS, facts = {}) {
  const r = rng(o.seed);
  const int = (n) => Math.floor(r() * n);
  // Groups: level 0 (10 %), level 1 (30 %), level 2 (60 %); each non-top group inside one above.
  const l0 = Math.floor(o.groups * 0.1);
  const l1 = Math.floor(o.groups * 0.4);
  for (let g = l0; g < o.groups; g++) {
    const parent = g < l1 ? int(l0) : l0 + int(l1 - l0);
    yield [groupRef(parent), "member", groupRef(g), 0];
  }
  // Users: three memberships each (mostly level-2 groups), one in ten of them as admin.
  for (let u = 0; u < o.users; u++) {
    for (let k = 0; k < 3; k++) {
      const g = r() < 0.8 ? l1 + int(o.groups - l1) : int(l1);
      yield [groupRef(g), r() < 0.1 ? "admin" : "member", userRef(u), 0];
    }
  }
  // Homes and files: file ids 0..users-1 are homes; below each, a random tree of depth <= 8.
  const depth = new Uint8Array(Math.ceil(o.users * (1 + o.filesPerUser)) + 1);
  const ownerOf = new Int32Array(depth.length);
  const deepest = [];
  for (let u = 0; u < o.users; u++) {
    yield [fileRef(u), "owner", userRef(u), 0];
    ownerOf[u] = u;
  }
  let next = o.users;
  for (let u = 0; u < o.users; u++) {
    // One user in ten gets a chain down to depth 8; the others a bushy tree (same mean).
    const chain = u % 10 === 0;
    const mean = (o.filesPerUser * 10 - 8) / 9;
    const count = chain ? 8 : Math.floor(mean) + (r() < mean % 1 ? 1 : 0);
    const mine = [u];
    for (let k = 0; k < count; k++) {
      const parent = chain ? mine[mine.length - 1] : mine[int(mine.length)];
      if (depth[parent] >= 8) continue;
      const f = next++;
      depth[f] = depth[parent] + 1;
      ownerOf[f] = u;
      mine.push(f);
      if (depth[f] === 8) deepest.push(f);
      yield [fileRef(f), "parent", fileRef(parent), 0];
    }
  }
  // Shares: viewer 60 %, editor 35 %, owner 5 %; to a user (70 %) or a group; 10 % expiring.
  const now = Date.now();
  for (let s = 0; s < o.users * o.sharesPerUser; s++) {
    const f = int(next);
    const subject = r() < 0.7 ? userRef(int(o.users)) : groupRef(int(o.groups));
    const x = r();
    const role = x < 0.6 ? "viewer" : x < 0.95 ? "editor" : "owner";
    const expireAt = r() < 0.1 ? now + (r() < 0.5 ? -1 : 1) * 86_400_000 : 0;
    yield [fileRef(f), role, subject, expireAt];
  }
  Object.assign(facts, {
    files: next,
    deepest,
    ownerOf: ownerOf.subarray(0, next),
    depth: depth.subarray(0, next),
  });
}
