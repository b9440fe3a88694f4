// Access-token verification in every service (RFC 8725): tokens signed with the real key but
// with a wrong claim, header or algorithm, and tokens of every malformed shape, are refused
// as UNAUTHENTICATED (never INTERNAL). Also: key rotation keeps old tokens valid.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { call, dropRun, failure, tempKeyDir } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authOutcome, startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { keyFromPem } from "../src/domain/tokens.js";

let mesh: TestMesh;
let pem: string;
let kid: string;
let user: Awaited<ReturnType<TestMesh["newUser"]>>;
beforeAll(async () => {
  mesh = await startTestMesh({ services: ["auth", "file"] });
  const dir = mesh.env.JWT_KEYS_DIR!;
  pem = readFileSync(join(dir, readdirSync(dir)[0]!), "utf8");
  kid = keyFromPem(pem).kid;
  user = await mesh.newUser();
});
afterAll(() => mesh.stop());

const now = () => Math.floor(Date.now() / 1000);
const good = () => ({
  sub: user.userId,
  sid: user.sessionId,
  typ: "access",
  iss: "filemesh",
  aud: "filemesh",
  iat: now(),
  exp: now() + 300,
});
const sign = (
  payload: object,
  header: object = {},
  key: string | Buffer = pem,
  alg: jwt.Algorithm = "RS256",
) =>
  jwt.sign(payload, key, { algorithm: alg, header: { alg, typ: "at+jwt", kid, ...header } as jwt.JwtHeader });
/** How a call with this token on another service ends: PASSED, or its status and reason (any). */
const reasonFor = async (token: string) => {
  try {
    await call(mesh.file.getUsage.bind(mesh.file), {}, { authorization: `Bearer ${token}` });
    return { code: status.OK, reason: "PASSED" };
  } catch (err) {
    const d = await failure(Promise.reject(err));
    return { code: d.code, reason: d.reason };
  }
};

describe("access token verification", () => {
  it("accepts a well-formed token signed with the published key", async () => {
    expect(await reasonFor(sign(good()))).toEqual({ code: status.OK, reason: "PASSED" });
  });

  const cases: [string, () => string, string][] = [
    ["expired", () => sign({ ...good(), exp: now() - 60 }), "TOKEN_EXPIRED"],
    ["not yet valid", () => sign({ ...good(), nbf: now() + 600 }), "INVALID_TOKEN"],
    ["wrong issuer", () => sign({ ...good(), iss: "evil" }), "INVALID_TOKEN"],
    ["wrong audience", () => sign({ ...good(), aud: "other-app" }), "INVALID_TOKEN"],
    ["refresh-typed claim", () => sign({ ...good(), typ: "refresh" }), "INVALID_TOKEN"],
    ["wrong typ header", () => sign(good(), { typ: "JWT" }), "INVALID_TOKEN"],
    ["no session id", () => sign({ ...good(), sid: undefined }), "INVALID_TOKEN"],
    ["no expiry", () => sign(without(good(), "exp")), "INVALID_TOKEN"],
    ["unknown kid", () => sign(good(), { kid: "someone-elses-key" }), "INVALID_TOKEN"],
    [
      "a foreign key named by jku/jwk headers",
      () => {
        const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        return sign(
          good(),
          { jku: "https://evil.example/jwks.json", jwk: publicKey.export({ format: "jwk" }) },
          privateKey.export({ type: "pkcs8", format: "pem" }) as string,
        );
      },
      "INVALID_TOKEN",
    ],
    [
      "HS256 keyed with the public key",
      () =>
        sign(
          good(),
          {},
          createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "pem" }) as Buffer,
          "HS256",
        ),
      "INVALID_TOKEN",
    ],
    ["alg none", () => `${b64({ alg: "none", typ: "at+jwt", kid })}.${b64(good())}.`, "INVALID_TOKEN"],
    [
      "tampered payload",
      () => {
        const [h, , s] = sign(good()).split(".");
        return `${h}.${b64({ ...good(), sub: "someone-else" })}.${s}`;
      },
      "INVALID_TOKEN",
    ],
    [
      "header not JSON",
      () => `${Buffer.from("{nope").toString("base64url")}.${b64(good())}.c2ln`,
      "INVALID_TOKEN",
    ],
    ["header is an array", () => `${b64([1, 2])}.${b64(good())}.c2ln`, "INVALID_TOKEN"],
    ["payload not JSON", () => `${b64({ alg: "RS256", typ: "at+jwt", kid })}.bm9wZQ.c2ln`, "INVALID_TOKEN"],
    ["two segments", () => "abc.def", "INVALID_TOKEN"],
    ["huge", () => "a".repeat(20_000), "INVALID_TOKEN"],
  ];
  it.each(cases)("refuses a token that is %s", async (_name, make, reason) => {
    expect(await reasonFor(make())).toEqual({ code: status.UNAUTHENTICATED, reason });
  });

  it("refuses a valid token whose session user does not match", async () => {
    const other = await mesh.newUser();
    expect(await reasonFor(sign({ ...good(), sid: other.sessionId }))).toEqual({
      code: status.UNAUTHENTICATED,
      reason: "SESSION_ENDED",
    });
  });
});

describe("key rotation", () => {
  it("publishes every key in the directory and signs with the newest; old tokens keep verifying", async () => {
    const dir = tempKeyDir(1);
    const old = readdirSync(dir)[0]!;
    // Both meshes share one Redis prefix: the sessions made before the restart must outlive it.
    const redisPrefix = `t${randomBytes(4).toString("hex")}`;
    const rotated = await startTestMesh({
      services: ["auth"],
      env: { JWT_KEYS_DIR: dir, REDIS_PREFIX: redisPrefix },
    });
    try {
      const u = await rotated.newUser();
      await rotated.stop();
      // Add a newer key and restart: both are published, the new one signs.
      const fresh = tempKeyDir(1);
      copyFileSync(join(fresh, readdirSync(fresh)[0]!), join(dir, "9999.pem"));
      const again = await startTestMesh({
        services: ["auth", "file"],
        env: { JWT_KEYS_DIR: dir, REDIS_PREFIX: redisPrefix },
      });
      try {
        const { keys } = await call(again.auth.getJwks.bind(again.auth), {});
        expect(keys.map((k) => k.kid).sort()).toEqual(
          [
            keyFromPem(readFileSync(join(dir, old), "utf8")).kid,
            keyFromPem(readFileSync(join(dir, "9999.pem"), "utf8")).kid,
          ].sort(),
        );
        const v = await again.newUser();
        expect(jwt.decode(v.token, { complete: true })?.header.kid).toBe(
          keyFromPem(readFileSync(join(dir, "9999.pem"), "utf8")).kid,
        );
        // The token signed with the old key before the rotation still verifies (its session lives in Redis).
        expect(await authOutcome(call(again.file.getUsage.bind(again.file), {}, u.headers))).toBe("PASSED");
      } finally {
        await again.stop();
      }
    } catch (err) {
      await rotated.stop().catch(() => {});
      throw err;
    } finally {
      await dropRun("", redisPrefix);
    }
  });
});

function without<T extends object>(o: T, key: keyof T): Omit<T, typeof key> {
  const copy = { ...o };
  delete copy[key];
  return copy;
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}
