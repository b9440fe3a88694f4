// RATE_LIMITS parsing: every accepted limit is one the GCRA script can represent; anything
// else stops the service at start-up with every problem listed (exit 78), never a limiter that
// fails open at run time (issue 12: "check=1000000000/1s" made Redis answer "invalid expire time").
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfigOrExit } from "../bootstrap.js";
import { commonSpec, DEFAULT_RATE_LIMITS, rateClasses } from "../common-config.js";
import { ConfigError, parseConfig } from "../config.js";
import { LIMIT_BOUNDS, parseLimits } from "./gcra.js";

const problem = (spec: string, known?: ReadonlySet<string>): string => {
  try {
    parseLimits(spec, known);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${spec} was accepted`);
};

describe("parseLimits", () => {
  it("parses rates, periods and bursts", () => {
    expect(parseLimits("login=10/1m:5, read=100/1s,x=3/2h:0,y=1/7d,z=1000/1ms")).toEqual({
      login: { rate: 10, periodMs: 60_000, burst: 5 },
      read: { rate: 100, periodMs: 1000, burst: 0 },
      x: { rate: 3, periodMs: 7_200_000, burst: 0 },
      y: { rate: 1, periodMs: 7 * 86_400_000, burst: 0 },
      z: { rate: 1000, periodMs: 1, burst: 0 },
    });
  });

  it("accepts the defaults, the test harness' and the bench's lifted limits", () => {
    // A default for every class the contracts name, and no other.
    expect(Object.keys(parseLimits(DEFAULT_RATE_LIMITS, rateClasses())).sort()).toEqual(
      [...rateClasses()].sort(),
    );
    expect(rateClasses().size).toBe(10);
    expect(parseLimits("check=1000000/1s:1000000").check).toEqual({
      rate: 1_000_000,
      periodMs: 1000,
      burst: 1_000_000,
    });
  });

  it.each([
    ["check=1000000000/1s", /rate too high: at most 1000000 per 1000ms/],
    ["check=1001/1ms", /rate too high/],
    ["check=0/1s", /rate must be a whole number of at least 1/],
    ["check=99999999999999999999/1s", /rate must be a whole number/],
    ["check=1/0s", /period must be at least 1ms/],
    ["check=1/8d", /period must be at most 7d/],
    ["check=1/169h", /period must be at most 7d/],
    [`check=100/1s:${LIMIT_BOUNDS.maxBurst + 1}`, /burst must be at most 1000000/],
    ["check=1/1d:7", /burst too large for the rate/],
    ["check=10/1s:-1", /not class=rate\/period/],
    ["check=1.5/1s", /not class=rate\/period/],
    ["check=10/1w", /not class=rate\/period/],
    ["check=10/1s,check=20/1s", /"check" is given twice/],
    ["Check=10/1s", /not class=rate\/period/],
  ])("refuses %s", (spec, message) => {
    expect(problem(spec)).toMatch(message);
  });

  it("refuses classes the contracts do not know, and lists every problem at once", () => {
    const msg = problem("logn=10/1m,check=1000000000/1s,read=0/1s", rateClasses());
    expect(msg).toMatch(/unknown rate class "logn" \(known: check, download, link, login/);
    expect(msg).toMatch(/"check=1000000000\/1s": rate too high/);
    expect(msg).toMatch(/"read=0\/1s": rate must be/);
  });
});

describe("RATE_LIMITS at start-up", () => {
  afterEach(() => vi.restoreAllMocks());

  it("is a configuration error naming the problem", () => {
    expect(() => parseConfig(commonSpec("user"), { RATE_LIMITS: "check=1000000000/1s" })).toThrow(
      ConfigError,
    );
    expect(() => parseConfig(commonSpec("user"), { RATE_LIMITS: "check=1000000000/1s" })).toThrow(
      /RATE_LIMITS has bad rate limits: "check=1000000000\/1s": rate too high/,
    );
  });

  it("stops the service with exit code 78", () => {
    const exit = vi.spyOn(process, "exit").mockImplementation((code) => {
      throw new Error(`exit ${code}`);
    });
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(() =>
      loadConfigOrExit("user", () => parseConfig(commonSpec("user"), { RATE_LIMITS: "check=1/1s:5000000" })),
    ).toThrow("exit 78");
    expect(exit).toHaveBeenCalledWith(78);
    expect(String(printed.mock.calls[0]?.[0])).toMatch(/user: invalid configuration:.*RATE_LIMITS.*burst/s);
  });
});
