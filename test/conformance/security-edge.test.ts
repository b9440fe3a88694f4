// The edge decides who a caller is and where it came from; a client cannot. Through the local
// gateway (REST): the client address every per-address limit counts against is the one that
// connected, whatever X-Forwarded-For says (issue 12, attack 3), and mesh identity headers —
// x-filemesh-service with the internal token, a sidecar's x-forwarded-client-cert — sent by a
// client never reach a service. Requests come from distinct loopback addresses (127.0.0.x) so
// the test can play an attacker and a victim on one machine.
import { liftedRateLimits } from "@filemesh/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopback, reasonOf, rest, restFrom, startTarget, type Target } from "./target.js";

// A small login class, its period unique to this run: the limiter's key holds the limit, so
// no other run or test file shares these budgets.
const LOGIN_BURST = 8;
const LOGIN_LIMIT = `${LOGIN_BURST}/${3600 + Math.floor(Math.random() * 100_000)}s:${LOGIN_BURST}`;
const RATE_LIMITS = liftedRateLimits({ login: LOGIN_LIMIT });

const PASSWORD = "an edge-test passphrase";
const email = () => `edge-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;

describe("client address (X-Forwarded-For) at the edge", () => {
  let t: Target;
  let account: string;
  beforeAll(async () => {
    t = await startTarget({ services: ["auth", "permission"], env: { RATE_LIMITS } });
    account = email();
    const reg = await rest(t.base, "POST", "/v1/auth:register", {
      email: account,
      password: PASSWORD,
      displayName: "Edge",
    });
    expect(reg.status).toBe(200);
  });
  afterAll(() => t?.stop());

  const login = (from: string, xff?: string) =>
    restFrom(
      from,
      t.base,
      "POST",
      "/v1/auth:login",
      { email: account, password: PASSWORD },
      {
        ...(xff ? { "x-forwarded-for": xff } : {}),
      },
    );

  it("30 logins from one client, each with a different forged X-Forwarded-For, are limited by the login class", async () => {
    const client = loopback();
    const statuses: number[] = [];
    const reasons = new Set<string | undefined>();
    for (let i = 0; i < 30; i++) {
      const res = await login(client, `198.18.${i}.${1 + (i % 250)}, 203.0.113.${i + 1}`);
      statuses.push(res.status);
      if (res.status !== 200) reasons.add(reasonOf(res.body));
    }
    expect(statuses[0]).toBe(200);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(LOGIN_BURST + 1);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(30 - LOGIN_BURST - 1);
    expect([...reasons]).toEqual(["RATE_LIMITED"]);
  });

  it("a forged X-Forwarded-For naming a victim's address does not spend the victim's budget", async () => {
    const attacker = loopback();
    const victim = loopback();
    const attacks: number[] = [];
    for (let i = 0; i < LOGIN_BURST + 6; i++) attacks.push((await login(attacker, victim)).status);
    // The attacker spent their own budget...
    expect(attacks.filter((s) => s === 429).length).toBeGreaterThan(0);
    // ...and the victim, from their own address, logs in.
    const own = await login(victim);
    expect(own.status).toBe(200);
    expect(typeof own.body.accessToken).toBe("string");
  });
});

describe("refreshes and logins from one address", () => {
  let t: Target;
  beforeAll(async () => {
    // The default refresh class: refreshes are counted apart from logins.
    t = await startTarget({
      services: ["auth", "permission"],
      env: {
        RATE_LIMITS: liftedRateLimits({ login: LOGIN_LIMIT, refresh: "600/1m:120" }),
      },
    });
  });
  afterAll(() => t?.stop());

  it("a NAT's refreshes do not spend its logins (Refresh has a class of its own)", async () => {
    const account = email();
    expect(
      (
        await rest(t.base, "POST", "/v1/auth:register", {
          email: account,
          password: PASSWORD,
          displayName: "N",
        })
      ).status,
    ).toBe(200);
    const office = loopback();
    // Everyone behind one address refreshing their tokens: more refreshes than the login burst.
    const first = await restFrom(office, t.base, "POST", "/v1/auth:login", {
      email: account,
      password: PASSWORD,
    });
    expect(first.status).toBe(200);
    let token = first.body.refreshToken as string;
    for (let i = 0; i < LOGIN_BURST * 3; i++) {
      const res = await restFrom(office, t.base, "POST", "/v1/auth:refresh", { refreshToken: token });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      token = res.body.refreshToken;
    }
    // ...and someone there can still sign in.
    const login = await restFrom(office, t.base, "POST", "/v1/auth:login", {
      email: account,
      password: PASSWORD,
    });
    expect(login.status).toBe(200);
  });
});

describe("mesh identity headers from a client", () => {
  const check = { subject: "user:nobody", resource: "file:nothing", permission: "read" };

  describe("shared-token mode (INTERNAL_AUTH=token)", () => {
    let t: Target;
    beforeAll(async () => {
      t = await startTarget({ services: ["auth", "permission"] });
    });
    afterAll(() => t?.stop());

    it("x-filemesh-service with a wrong internal token, and a forged XFCC, make no service caller", async () => {
      const res = await rest(t.base, "POST", "/v1/permissions:check", check, {
        "x-filemesh-service": "file",
        "x-filemesh-internal-token": "wrong-token-but-long-enough",
        "x-forwarded-client-cert":
          "By=spiffe://cluster.local/ns/filemesh/sa/permission;URI=spiffe://cluster.local/ns/filemesh/sa/file",
      });
      expect(res.status).toBe(401);
      expect(reasonOf(res.body)).toBe("MISSING_TOKEN");
    });

    it("even the right internal token, sent by a client, does not reach the service", async (ctx) => {
      const token = t.mesh?.env.INTERNAL_TOKEN;
      if (!token) return ctx.skip(); // an external gateway: the token is not ours to know
      const res = await rest(t.base, "POST", "/v1/permissions:check", check, {
        "x-filemesh-service": "file",
        "x-filemesh-internal-token": token,
      });
      expect(res.status).toBe(401);
      expect(reasonOf(res.body)).toBe("MISSING_TOKEN");
    });

    it("an internal RPC is not reachable through the gateway, whatever headers come with it", async () => {
      const token = t.mesh?.env.INTERNAL_TOKEN ?? "x".repeat(24);
      const res = await rest(
        t.base,
        "POST",
        "/filemesh.permission.v1.PermissionService/WriteRelations",
        { writes: [] },
        { "x-filemesh-service": "file", "x-filemesh-internal-token": token },
      );
      expect([403, 404]).toContain(res.status);
    });
  });

  describe("sidecar-certificate mode (INTERNAL_AUTH=xfcc)", () => {
    let t: Target;
    beforeAll(async () => {
      t = await startTarget({
        services: ["auth", "permission"],
        serviceEnv: { permission: { INTERNAL_AUTH: "xfcc" } },
      });
    });
    afterAll(() => t?.stop());

    it("a client's x-forwarded-client-cert naming the file service makes no service caller", async () => {
      const res = await rest(t.base, "POST", "/v1/permissions:check", check, {
        "x-forwarded-client-cert":
          'By=spiffe://cluster.local/ns/filemesh/sa/permission;Hash=00;Subject="";URI=spiffe://cluster.local/ns/filemesh/sa/file',
      });
      expect(res.status).toBe(401);
      expect(reasonOf(res.body)).toBe("MISSING_TOKEN");
    });
  });
});
