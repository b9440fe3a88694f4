import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { rangeSpan } from "./range.js";
import { createTickets, type DownloadClaims, TicketError } from "./ticket.js";

const claims: DownloadClaims = {
  d: "r",
  k: "ab/cd/key",
  o: 0,
  l: 10,
  s: 10,
  e: Date.now() + 60_000,
  p: "u",
  f: "f",
  v: "v",
  t: "text/plain",
  c: "attachment",
  h: '"x"',
};
const reasonOf = (fn: () => unknown) => {
  try {
    fn();
    return "accepted";
  } catch (err) {
    return err instanceof TicketError ? err.reason : String(err);
  }
};

describe("transfer tickets", () => {
  const tickets = createTickets(randomBytes(32));
  it("verify what they minted, for one direction, until the expiry", () => {
    const t = tickets.mint(claims);
    expect(tickets.verify(t, "r")).toEqual(claims);
    expect(reasonOf(() => tickets.verify(t, "w"))).toBe("TICKET_WRONG_DIRECTION");
    expect(reasonOf(() => tickets.verify(t, "r", claims.e))).toBe("TICKET_EXPIRED");
  });
  it("refuse another key's tickets, altered claims and junk", () => {
    const t = tickets.mint(claims);
    const other = createTickets(randomBytes(32)).mint(claims);
    const [body, sig] = t.split(".");
    const altered = `${Buffer.from(JSON.stringify({ ...claims, k: "zz/zz/other" })).toString("base64url")}.${sig}`;
    expect(reasonOf(() => tickets.verify(other, "r"))).toBe("TICKET_INVALID");
    expect(reasonOf(() => tickets.verify(altered, "r"))).toBe("TICKET_INVALID");
    for (const junk of ["", ".", body!, `${t}.x`, "a".repeat(5000), `${body}.${sig}x`]) {
      expect(
        reasonOf(() => tickets.verify(junk, "r")),
        junk.slice(0, 20),
      ).toMatch(/^TICKET_(MALFORMED|INVALID)$/);
    }
  });
});

describe("rangeSpan", () => {
  it("one range within the window; lists and junk serve the whole window", () => {
    expect(rangeSpan("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(rangeSpan("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(rangeSpan("bytes=-5", 100)).toEqual({ start: 95, end: 99 });
    expect(rangeSpan("bytes=50-5000", 100)).toEqual({ start: 50, end: 99 });
    expect(rangeSpan("bytes=100-", 100)).toBe("unsatisfiable");
    expect(rangeSpan("bytes=-0", 100)).toBe("unsatisfiable");
    for (const h of [
      undefined,
      "",
      "bytes=0-1,2-3",
      "bytes=9-1",
      "items=0-1",
      "bytes=-",
      `bytes=0-${"9".repeat(60)}`,
    ]) {
      expect(rangeSpan(h, 100), String(h)).toBeUndefined();
    }
  });
});
