// RS256 (RSA-2048, the dev key's size) against ES256 (P-256) in-process: what auth pays to
// sign an access token (once per login and per refresh) and what every service pays to
// verify one (every authenticated call), with jsonwebtoken and the options the project uses
// (services/auth/src/domain/tokens.ts, services/kit/src/auth/verify.ts), and with bare
// node:crypto sign/verify of the same bytes. The algorithms alternate in short slices
// (`--rounds` × `--slice-ms` each) so the machine's drifting load hits both alike.
// Prints { tables, notes, figures } as JSON (bench/lib/node-scenario.mjs).
//   node bench/lib/jwt-cost.mjs --rounds 5 --slice-ms 400
import { createHash, sign as cryptoSign, verify as cryptoVerify, generateKeyPairSync } from "node:crypto";
import { parseArgs } from "node:util";
import jwt from "jsonwebtoken";
import { latencyStats, round } from "./stats.mjs";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    "slice-ms": { type: "string", default: "400" },
  },
});
const rounds = Number(values.rounds);
const sliceMs = Number(values["slice-ms"]);

const ISS = "filemesh";
const AUD = "filemesh";
const algs = {
  RS256: generateKeyPairSync("rsa", { modulusLength: 2048 }),
  ES256: generateKeyPairSync("ec", { namedCurve: "P-256" }),
};
// Each key's kid, computed once, as auth's key ring does (not per signature).
const kids = Object.fromEntries(
  Object.entries(algs).map(([alg, k]) => [
    alg,
    createHash("sha256")
      .update(k.publicKey.export({ format: "der", type: "spki" }))
      .digest("base64url"),
  ]),
);

const signJwt = (alg, k) =>
  jwt.sign({ sid: "Zm9vYmFyYmF6cXV4cXV1eA", typ: "access" }, k.privateKey, {
    algorithm: alg,
    keyid: kids[alg],
    issuer: ISS,
    audience: AUD,
    subject: "0b7e3f52-6c1a-4d4e-9a43-3f1f0f3c2a11",
    expiresIn: 900,
    header: { alg, typ: "at+jwt", kid: kids[alg] },
  });
const verifyJwt = (alg, k, token) =>
  jwt.verify(token, k.publicKey, { algorithms: [alg], issuer: ISS, audience: AUD, clockTolerance: 5 });

// Bare signatures over a token's signing input; ES256 in JOSE form (r||s, not DER).
const rawOpts = (alg, key) => (alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key);

const ops = {};
for (const [alg, k] of Object.entries(algs)) {
  const token = signJwt(alg, k);
  const input = Buffer.from(token.slice(0, token.lastIndexOf(".")));
  const sig = cryptoSign("sha256", input, rawOpts(alg, k.privateKey));
  if (!verifyJwt(alg, k, token) || !cryptoVerify("sha256", input, rawOpts(alg, k.publicKey), sig)) {
    throw new Error(`${alg}: self-check failed`);
  }
  ops[alg] = {
    "jwt sign": () => signJwt(alg, k),
    "jwt verify": () => verifyJwt(alg, k, token),
    "crypto sign": () => cryptoSign("sha256", input, rawOpts(alg, k.privateKey)),
    "crypto verify": () => cryptoVerify("sha256", input, rawOpts(alg, k.publicKey), sig),
  };
  ops[alg].tokenBytes = token.length;
}

const samples = {};
const time = (name, fn) => {
  samples[name] ??= [];
  const lat = samples[name];
  const end = performance.now() + sliceMs;
  for (;;) {
    const t = performance.now();
    fn();
    const done = performance.now();
    lat.push((done - t) * 1000);
    if (done >= end) break;
  }
};
// Warm-up (JIT, OpenSSL caches), then the measured rounds.
for (const alg of Object.keys(algs)) for (const op of Object.keys(ops[alg]).slice(0, 4)) ops[alg][op]();
for (let r = 0; r < rounds; r++) {
  for (const op of ["jwt verify", "jwt sign", "crypto verify", "crypto sign"]) {
    for (const alg of r % 2 ? ["ES256", "RS256"] : ["RS256", "ES256"]) time(`${alg} ${op}`, ops[alg][op]);
  }
}

const figures = {};
const rows = [];
for (const op of ["jwt verify", "jwt sign", "crypto verify", "crypto sign"]) {
  for (const alg of ["RS256", "ES256"]) {
    const lat = samples[`${alg} ${op}`];
    const st = latencyStats(lat);
    const perSec = round(lat.length / ((lat.reduce((s, x) => s + x, 0) || 1) / 1e6), 0);
    figures[`${alg} ${op}`] = { count: lat.length, opsPerSec: perSec, us: st };
    rows.push([alg, op, lat.length, perSec, round(st.p50, 1), round(st.mean, 1), round(st.p99, 1)]);
  }
}
const p50 = (k) => figures[k].us.p50;
const ratio = {
  verifyEsOverRs: round(p50("ES256 jwt verify") / p50("RS256 jwt verify"), 2),
  signRsOverEs: round(p50("RS256 jwt sign") / p50("ES256 jwt sign"), 2),
};
// One token: signed once, then verified once per authenticated call while it lives. RS256 costs
// less overall once a token is verified more than `breakEven` times.
const breakEven = round(
  (p50("RS256 jwt sign") - p50("ES256 jwt sign")) / (p50("ES256 jwt verify") - p50("RS256 jwt verify")),
  1,
);
figures.ratio = ratio;
figures.breakEvenVerifiesPerToken = breakEven;
figures.tokenBytes = { RS256: ops.RS256.tokenBytes, ES256: ops.ES256.tokenBytes };

process.stdout.write(
  `${JSON.stringify({
    tables: [
      {
        title: `JWT cost in-process, one thread (${rounds} rounds × ${sliceMs} ms per op and algorithm, interleaved)`,
        header: ["alg", "operation", "ops timed", "ops/s", "p50 µs", "mean µs", "p99 µs"],
        rows,
      },
    ],
    notes: [
      `verify: ES256 / RS256 p50 = **${ratio.verifyEsOverRs}** (jsonwebtoken, the verify options of kit/auth/verify.ts)`,
      `sign: RS256 / ES256 p50 = **${ratio.signRsOverEs}** (jsonwebtoken, the sign options of auth/domain/tokens.ts)`,
      `one token signed once and verified n times: RS256 is cheaper in total once n > **${breakEven}** ` +
        "(an access token lives 15 min and is verified on every call by every service it reaches)",
      `token size: RS256 ${ops.RS256.tokenBytes} B, ES256 ${ops.ES256.tokenBytes} B (sent as metadata on every call)`,
    ],
    figures,
  })}\n`,
);
