// Issue 12, attack 6: nobody can keep another person out of their account by guessing wrong,
// while brute force stays throttled (docs/reliability.md, "Auth and sessions" and "Trust").
// Client addresses come from X-Forwarded-For (the harness trusts it, as behind the gateway);
// each test uses addresses of its own, since the failure counters live in the shared Redis.
import { randomBytes } from "node:crypto";
import { call, failure } from "@filemesh/kit/testing";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMesh, type TestMesh } from "../../../test/harness/mesh.js";

const FREE = 3; // per account+address; 4× per address and per account for unknown addresses
let mesh: TestMesh;
beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["auth"],
    serviceEnv: {
      // A first delay long enough that the next call of a test lands inside it on a loaded
      // machine (300 ms did not, once, with three test workers on two cores).
      auth: { LOGIN_FREE_ATTEMPTS: String(FREE), LOGIN_BACKOFF_BASE: "1500ms", LOGIN_BACKOFF_MAX: "8s" },
    },
  });
});
afterAll(() => mesh.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A fresh client address (documentation prefix 2001:db8::/32, unique per call). */
const address = () => `2001:db8:${randomBytes(2).toString("hex")}:${randomBytes(2).toString("hex")}::1`;
const login = (email: string, password: string, from: string) =>
  call(mesh.auth.login.bind(mesh.auth), { email, password }, { "x-forwarded-for": from });
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    async (e) => (await failure(Promise.reject(e))).reason,
  );

/** Guesses wrong from `from`, waiting out each delay, until `n` guesses have counted. */
async function guessWrong(email: string, from: string, n: number): Promise<string[]> {
  const seen: string[] = [];
  for (let counted = 0; counted < n; ) {
    const err = await failure(login(email, "not the password", from));
    seen.push(err.reason);
    if (err.reason === "LOGIN_THROTTLED") await sleep(err.retryAfterMs! + 20);
    else counted++;
  }
  return seen;
}

describe("someone else's wrong guesses", () => {
  it("do not lock the owner out: eight and more guesses from another address, one per delay, and the owner logs in from theirs", async () => {
    const victim = await mesh.newUser();
    const attacker = address();
    // Eight guesses as fast as they go, then one per delay: the attacker is throttled...
    const burst: string[] = [];
    for (let i = 0; i < 8; i++) burst.push(await outcome(login(victim.email, "guess", attacker)));
    expect(burst.slice(0, FREE + 1)).toEqual(Array(FREE + 1).fill("INVALID_CREDENTIALS"));
    expect(burst.at(-1)).toBe("LOGIN_THROTTLED");
    const slow = await guessWrong(victim.email, attacker, 3);
    expect(slow).toContain("LOGIN_THROTTLED");
    // ...the owner, from their own address (never used before) or any other, is not.
    expect(await outcome(login(victim.email, victim.password, address()))).toBe("OK");
    const throttled = await failure(login(victim.email, "still guessing", attacker));
    expect(throttled).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "LOGIN_THROTTLED" });
    expect(await outcome(login(victim.email, victim.password, address()))).toBe("OK");
  });

  it("brute force from one address is still throttled with growing delays; the right password gets in after the cool-down", async () => {
    const u = await mesh.newUser();
    const from = address();
    for (let i = 0; i < FREE; i++) {
      expect(await outcome(login(u.email, "wrong password", from))).toBe("INVALID_CREDENTIALS");
    }
    expect(await outcome(login(u.email, "wrong password", from))).toBe("INVALID_CREDENTIALS");
    // Throttled even with the right password, so guessing cannot go faster than the delay.
    const first = await failure(login(u.email, u.password, from));
    expect(first).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "LOGIN_THROTTLED" });
    await sleep(first.retryAfterMs! + 20);
    expect(await outcome(login(u.email, "wrong again", from))).toBe("INVALID_CREDENTIALS");
    const second = await failure(login(u.email, u.password, from));
    expect(second.reason).toBe("LOGIN_THROTTLED");
    expect(second.retryAfterMs!).toBeGreaterThan(first.retryAfterMs!);
    await sleep(second.retryAfterMs! + 20);
    expect(await outcome(login(u.email, u.password, from))).toBe("OK");
  });

  it("one address spraying many accounts is throttled for every account, other addresses are not", async () => {
    const from = address();
    const spray = () => `spray-${randomBytes(6).toString("hex")}@example.com`;
    for (let i = 0; i < FREE * 4; i++) {
      expect(await outcome(login(spray(), "common password", from))).toBe("INVALID_CREDENTIALS");
    }
    expect(await outcome(login(spray(), "common password", from))).toBe("INVALID_CREDENTIALS");
    const u = await mesh.newUser();
    expect(await outcome(login(u.email, u.password, from))).toBe("LOGIN_THROTTLED");
    expect(await outcome(login(u.email, u.password, address()))).toBe("OK");
  });

  it("a distributed brute force (many addresses, one account) is bounded per account for addresses the owner never used; the owner's known address still gets in; the cool-down ends it", async () => {
    const victim = await mesh.newUser();
    const home = address();
    expect(await outcome(login(victim.email, victim.password, home))).toBe("OK");
    // One guess per address, below every per-address limit: 4× FREE are free for the account.
    for (let i = 0; i < FREE * 4; i++) {
      expect(await outcome(login(victim.email, "guess", address()))).toBe("INVALID_CREDENTIALS");
    }
    // From here each guess from a new address first waits for the account's delay.
    await guessWrong(victim.email, address(), 1);
    const bounded = await failure(login(victim.email, "next guess", address()));
    expect(bounded).toMatchObject({ code: status.RESOURCE_EXHAUSTED, reason: "LOGIN_THROTTLED" });
    await sleep(bounded.retryAfterMs! + 20);
    await guessWrong(victim.email, address(), 1);
    const longer = await failure(login(victim.email, "next guess", address()));
    expect(longer.reason).toBe("LOGIN_THROTTLED");
    expect(longer.retryAfterMs!).toBeGreaterThan(bounded.retryAfterMs!);
    // Unknown addresses wait (the owner on a new device too: a delay, never a lock-out)...
    const stranger = address();
    expect(await outcome(login(victim.email, victim.password, stranger))).toBe("LOGIN_THROTTLED");
    // ...the address the owner logged in from before does not.
    expect(await outcome(login(victim.email, victim.password, home))).toBe("OK");
    await sleep(longer.retryAfterMs! + 20);
    expect(await outcome(login(victim.email, victim.password, stranger))).toBe("OK");
  });

  it("guesses sent in parallel count: a burst from one address gets no more than the free attempts and one more", async () => {
    const u = await mesh.newUser();
    const from = address();
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => outcome(login(u.email, "parallel guess", from))),
    );
    expect(burst.filter((r) => r === "INVALID_CREDENTIALS")).toHaveLength(FREE + 1);
    expect(burst.filter((r) => r === "LOGIN_THROTTLED")).toHaveLength(10 - FREE - 1);
  });

  it("a known address is no way around the limit on its own failures", async () => {
    const u = await mesh.newUser();
    const home = address();
    expect(await outcome(login(u.email, u.password, home))).toBe("OK");
    const seen: string[] = [];
    for (let i = 0; i < FREE + 2; i++) seen.push(await outcome(login(u.email, "typo", home)));
    expect(seen.slice(0, FREE + 1)).toEqual(Array(FREE + 1).fill("INVALID_CREDENTIALS"));
    expect(seen[FREE + 1]).toBe("LOGIN_THROTTLED");
  });

  it("an unknown account answers and is throttled exactly like a wrong password", async () => {
    const u = await mesh.newUser();
    const ghost = `ghost-${randomBytes(6).toString("hex")}@example.com`;
    const run = async (email: string) => {
      const from = address();
      const out: string[] = [];
      for (let i = 0; i < FREE + 2; i++) {
        const e = await failure(login(email, "wrong password", from));
        out.push(`${e.code}:${e.reason}:${e.message}`);
      }
      return out;
    };
    const [known, unknown] = [await run(u.email), await run(ghost)];
    expect(unknown).toEqual(known);
    expect(known[0]).toMatch(new RegExp(`^${status.UNAUTHENTICATED}:INVALID_CREDENTIALS:`));
    expect(known.at(-1)).toMatch(new RegExp(`^${status.RESOURCE_EXHAUSTED}:LOGIN_THROTTLED:`));
  });
});
