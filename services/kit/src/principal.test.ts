// The caller helpers refuse a principal whose session ended (only Logout's policy lets one in),
// except the one helper made for that method.
import { describe, expect, it } from "vitest";
import { callerPrincipal, callerSession, callerSessionOrEnded, callerUserId } from "./principal.js";

const live = { principal: { subject: "user:u1", userId: "u1", sessionId: "s1" } };
const ended = { principal: { ...live.principal, sessionEnded: true } };
const reasonOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as { reason?: string }).reason;
  }
  return "PASSED";
};

describe("caller helpers", () => {
  it("answer for a live session", () => {
    expect(callerUserId(live)).toBe("u1");
    expect(callerSession(live)).toEqual({ userId: "u1", sessionId: "s1" });
    expect(callerPrincipal(live)).toBe(live.principal);
    expect(callerSessionOrEnded(live)).toEqual({ userId: "u1", sessionId: "s1", ended: false });
  });

  it("refuse an ended session with SESSION_ENDED, except callerSessionOrEnded", () => {
    expect(reasonOf(() => callerUserId(ended))).toBe("SESSION_ENDED");
    expect(reasonOf(() => callerSession(ended))).toBe("SESSION_ENDED");
    expect(reasonOf(() => callerPrincipal(ended))).toBe("SESSION_ENDED");
    expect(callerSessionOrEnded(ended)).toEqual({ userId: "u1", sessionId: "s1", ended: true });
  });

  it("refuse a call without a user", () => {
    expect(reasonOf(() => callerSessionOrEnded({ principal: { subject: "service:file" } }))).toBe(
      "MISSING_TOKEN",
    );
    expect(reasonOf(() => callerUserId({}))).toBe("MISSING_TOKEN");
  });
});
