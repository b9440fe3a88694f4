// The kit's caller checks and rate limits on every RPC of the contracts, in real services (the
// whole mesh in-process): docs/security.md cites these for the "who may call" and "rate limited
// by" columns. Every method is called with raw bytes (an empty message is valid for every
// request type), so a method added to the contracts is covered without touching this file.
//  - anonymous: every non-public method answers UNAUTHENTICATED before its handler runs;
//  - internal methods: only their listed mesh services, proven by the internal token;
//  - rate classes: with every class at one call per hour, a second call by the same caller is
//    RATE_LIMITED — keyed by the user (a second session of the same user shares the budget),
//    or by the client address for public methods (another address has its own budget).
import { randomBytes, randomUUID } from "node:crypto";
import { type MethodInfo, methodCatalog, processorv1 } from "@filemesh/contracts";
import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";
import { loadKeyRing, signAccessToken } from "../../auth/src/domain/tokens.js";
import { decodeServiceError } from "../src/errors.js";

type H = Record<string, string>;
interface Outcome {
  code: number;
  reason: string;
}

const CLASSES = [...new Set(methodCatalog.map((m) => m.policy.rateClass).filter(Boolean))];
const CALLER_CHECK_REASONS = [
  "MISSING_TOKEN",
  "INVALID_TOKEN",
  "SESSION_ENDED",
  "ADMIN_REQUIRED",
  "SERVICE_IDENTITY_REQUIRED",
  "CALLER_NOT_ALLOWED",
  "RATE_LIMITED",
];

let mesh: TestMesh;
const clients = new Map<string, Client>();

beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["auth", "user", "permission", "file", "processor"],
    // One call per hour in every class: the second call of a caller is always over the limit.
    env: { RATE_LIMITS: CLASSES.map((c) => `${c}=1/1h`).join(",") },
  });
});
afterAll(async () => {
  for (const c of clients.values()) c.close();
  await mesh?.stop();
});

/** A client address nobody else used (public methods are limited per address, in shared Redis). */
const freshAddress = () => `10.${randomBytes(3).join(".")}`;

/** Special requests where an empty one would have an effect beyond the test (or none at all). */
function requestOf(m: MethodInfo): Buffer {
  if (m.method === "RedriveDeadLetters") {
    // Empty means "every dead letter": ask for one unknown id instead.
    return Buffer.from(processorv1.RedriveDeadLettersRequest.encode({ eventIds: [randomUUID()] }).finish());
  }
  return Buffer.alloc(0);
}

/** Calls `m` on its service with raw bytes and the given metadata; resolves its status. */
function invoke(m: MethodInfo, headers: H, timeoutMs = 5_000): Promise<Outcome> {
  let client = clients.get(m.serviceName);
  if (!client) {
    client = new Client(mesh.addr(m.serviceName as never), credentials.createInsecure());
    clients.set(m.serviceName, client);
  }
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const opts = { deadline: Date.now() + timeoutMs };
  const bytes = requestOf(m);
  const id = (b: Buffer) => b;
  const settle = (err: ServiceError | null): Outcome =>
    err ? { code: err.code, reason: decodeServiceError(err).reason } : { code: status.OK, reason: "" };
  return new Promise((resolve) => {
    if (m.clientStreaming) {
      const call = client.makeClientStreamRequest(m.path, id, id, md, opts, (err) => resolve(settle(err)));
      call.write(bytes);
      call.end();
    } else if (m.serverStreaming) {
      const call = client.makeServerStreamRequest(m.path, id, id, bytes, md, opts);
      call.on("data", () => {});
      call.on("error", (err: ServiceError) => resolve(settle(err)));
      call.on("end", () => resolve(settle(null)));
    } else {
      client.makeUnaryRequest(m.path, id, id, bytes, md, opts, (err) => resolve(settle(err)));
    }
  });
}

/** A user with two live sessions (two tokens), registered and logged in from fresh addresses. */
async function userWithTwoSessions(admin = false): Promise<{ userId: string; tokens: H[] }> {
  const email = `sec-${randomUUID()}@example.com`;
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const at = () => ({ "x-forwarded-for": freshAddress() });
  const reg = await unaryJson(
    mesh.auth.register.bind(mesh.auth),
    { email, password, displayName: "Sec" },
    at(),
  );
  const tokens: H[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await unaryJson(mesh.auth.login.bind(mesh.auth), { email, password }, at());
    // The admin role travels as the `adm` claim of the access token; mint one for the same live
    // session with the mesh's own signing key (how an operator-made admin's token looks).
    const token = admin
      ? signAccessToken(
          loadKeyRing(mesh.env.JWT_KEYS_DIR!),
          { issuer: "filemesh", audience: "filemesh", ttlMs: 300_000 },
          { sub: res.userId, sid: res.sessionId, admin: true },
        )
      : res.accessToken;
    tokens.push({ authorization: `Bearer ${token}` });
  }
  return { userId: reg.user!.id, tokens };
}

function unaryJson<Req, Res>(
  fn: (req: Req, md: Metadata, opts: object, cb: (e: ServiceError | null, r: Res) => void) => unknown,
  req: Req,
  headers: H,
): Promise<Res> {
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) =>
    fn(req, md, { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r))),
  );
}

const internal = methodCatalog.filter((m) => m.policy.internalCallers.length > 0);
const limited = methodCatalog.filter((m) => m.policy.rateClass);

describe("caller checks on every RPC of the contracts", () => {
  it("every method that is not public refuses an anonymous caller with UNAUTHENTICATED", async () => {
    for (const m of methodCatalog) {
      const got = await invoke(m, { "x-forwarded-for": freshAddress() });
      if (m.policy.public) {
        // The handler may still refuse the empty request (e.g. INVALID_CREDENTIALS), not the checks.
        expect(CALLER_CHECK_REASONS, `${m.path} is public: ${got.reason}`).not.toContain(got.reason);
        continue;
      }
      const reason = m.policy.internalCallers.length ? "SERVICE_IDENTITY_REQUIRED" : "MISSING_TOKEN";
      expect(got, m.path).toEqual({ code: status.UNAUTHENTICATED, reason });
    }
  });

  it("internal methods admit only their listed mesh services, proven by the internal token", async () => {
    const user = await userWithTwoSessions();
    const token = mesh.env.INTERNAL_TOKEN!;
    expect(internal.length).toBeGreaterThan(0);
    for (const m of internal) {
      const listed = m.policy.internalCallers[0]!;
      const asUser = await invoke(m, user.tokens[0]!);
      expect(asUser, `${m.path} as a user`).toEqual({
        code: status.UNAUTHENTICATED,
        reason: "SERVICE_IDENTITY_REQUIRED",
      });
      const forged = await invoke(m, {
        "x-filemesh-service": listed,
        "x-filemesh-internal-token": "guessed-guessed-guessed",
      });
      expect(forged, `${m.path} with a guessed token`).toEqual({
        code: status.UNAUTHENTICATED,
        reason: "SERVICE_IDENTITY_REQUIRED",
      });
      const unlisted = await invoke(m, {
        "x-filemesh-service": "gateway",
        "x-filemesh-internal-token": token,
      });
      expect(unlisted, `${m.path} as the gateway`).toEqual({
        code: status.PERMISSION_DENIED,
        reason: "CALLER_NOT_ALLOWED",
      });
      for (const service of m.policy.internalCallers) {
        const ok = await invoke(
          m,
          { "x-filemesh-service": service, "x-filemesh-internal-token": token },
          1_500,
        );
        expect(CALLER_CHECK_REASONS, `${m.path} as ${service}: ${ok.reason}`).not.toContain(ok.reason);
      }
    }
  });

  it("admin methods refuse a user without the admin role with PERMISSION_DENIED ADMIN_REQUIRED", async () => {
    const user = await userWithTwoSessions();
    const admin = methodCatalog.filter((m) => m.policy.admin);
    expect(admin.length).toBeGreaterThan(0);
    for (const m of admin) {
      expect(await invoke(m, user.tokens[0]!), m.path).toEqual({
        code: status.PERMISSION_DENIED,
        reason: "ADMIN_REQUIRED",
      });
    }
  });
});

describe("rate limits on every RPC of the contracts", () => {
  it("a second call in a rate class is RATE_LIMITED, keyed by the user or, on public methods, the client address", async () => {
    expect(limited.length).toBeGreaterThan(40);
    for (const m of limited) {
      if (m.policy.public) {
        const from = { "x-forwarded-for": freshAddress() };
        const first = await invoke(m, from);
        expect(first.reason, `${m.path} first call`).not.toBe("RATE_LIMITED");
        expect(await invoke(m, from), `${m.path} again from the same address`).toMatchObject({
          code: status.RESOURCE_EXHAUSTED,
          reason: "RATE_LIMITED",
        });
        const other = await invoke(m, { "x-forwarded-for": freshAddress() });
        expect(other.reason, `${m.path} from another address`).not.toBe("RATE_LIMITED");
        continue;
      }
      const u = await userWithTwoSessions(m.policy.admin);
      const first = await invoke(m, u.tokens[0]!);
      expect(CALLER_CHECK_REASONS, `${m.path} first call: ${first.reason}`).not.toContain(first.reason);
      // Another session of the same user shares the budget: the key is the user, not the token.
      expect(await invoke(m, u.tokens[1]!), `${m.path} again by the same user`).toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
        reason: "RATE_LIMITED",
      });
    }
  }, 120_000);
});
