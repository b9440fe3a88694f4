import { Metadata, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  AppError,
  conflictError,
  decodeServiceError,
  invalidArgument,
  resourceExhausted,
  toServiceError,
  unimplemented,
} from "./errors.js";
import { createRedis } from "./redis.js";
import { freePort } from "./testing/nats.js";

describe("error mapping", () => {
  it("carries ErrorInfo and BadRequest in grpc-status-details-bin", () => {
    const se = toServiceError(
      invalidArgument("INVALID_EMAIL", "email is invalid", [{ field: "email", description: "bad" }]),
      "auth.filemesh",
    );
    expect(se.code).toBe(status.INVALID_ARGUMENT);
    expect(se.metadata).toBeInstanceOf(Metadata);
    const d = decodeServiceError(se);
    expect(d).toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: "email is invalid",
      reason: "INVALID_EMAIL",
      domain: "auth.filemesh",
      fieldViolations: [{ field: "email", description: "bad", reason: "" }],
    });
  });

  it("adds RetryInfo to RESOURCE_EXHAUSTED", () => {
    const d = decodeServiceError(toServiceError(resourceExhausted("LOGIN_OVERLOADED", "busy", 1500)));
    expect(d.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(d.retryAfterMs).toBe(1500);
  });

  it("hides anything that is not an AppError behind a generic INTERNAL", () => {
    const d = decodeServiceError(toServiceError(new Error("connection to 10.0.0.3 refused: password=x")));
    expect(d).toMatchObject({ code: status.INTERNAL, message: "internal error", reason: "INTERNAL" });
  });

  it("turns store faults into statuses a client can retry on, without their messages", () => {
    const code = (c: string, message = "boom") => Object.assign(new Error(message), { code: c });
    const cases: [Error, status, string][] = [
      [new Error("timeout exceeded when trying to connect"), status.UNAVAILABLE, "DATABASE_BUSY"],
      [
        Object.assign(new Error("Knex: Timeout acquiring a connection"), { name: "KnexTimeoutError" }),
        status.UNAVAILABLE,
        "DATABASE_BUSY",
      ],
      [
        code("57P01", "terminating connection due to administrator command"),
        status.UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
      ],
      [
        code("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.3:5432"),
        status.UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
      ],
      [new Error("Connection terminated unexpectedly"), status.UNAVAILABLE, "DATABASE_UNAVAILABLE"],
      [code("40001"), status.ABORTED, "CONFLICT_RETRY"],
      [code("23505", "duplicate key value violates unique constraint"), status.INTERNAL, "INTERNAL"],
    ];
    for (const [err, want, reason] of cases) {
      const d = decodeServiceError(toServiceError(err));
      expect({ code: d.code, reason: d.reason }, err.message).toEqual({ code: want, reason });
      expect(d.message).not.toContain("10.0.0.3");
      if (want === status.UNAVAILABLE) expect(d.retryAfterMs).toBe(1000);
    }
  });

  it("turns a real ioredis failure (Redis away, a command unanswered) into UNAVAILABLE REDIS_UNAVAILABLE", async () => {
    const port = await freePort(); // nothing listens there
    const redis = createRedis(`redis://127.0.0.1:${port}`, pino({ level: "silent" }), "test");
    try {
      const err = await redis.get("k").then(
        () => undefined,
        (e: unknown) => e,
      );
      const d = decodeServiceError(toServiceError(err));
      expect({ code: d.code, reason: d.reason, retryAfterMs: d.retryAfterMs }).toEqual({
        code: status.UNAVAILABLE,
        reason: "REDIS_UNAVAILABLE",
        retryAfterMs: 1000,
      });
    } finally {
      redis.disconnect();
    }
    const timedOut = decodeServiceError(toServiceError(new Error("Command timed out")));
    expect(timedOut.reason).toBe("REDIS_UNAVAILABLE");
  });

  it("maps a lost race (deadlock, serialization failure) to ABORTED CONFLICT_RETRY only", () => {
    for (const sqlstate of ["40001", "40P01"]) {
      const d = decodeServiceError(
        toServiceError(conflictError(Object.assign(new Error("x"), { code: sqlstate }))),
      );
      expect({ code: d.code, reason: d.reason, retryAfterMs: d.retryAfterMs }).toEqual({
        code: status.ABORTED,
        reason: "CONFLICT_RETRY",
        retryAfterMs: 100,
      });
    }
    expect(conflictError(Object.assign(new Error("dup"), { code: "23505" }))).toBeUndefined();
    expect(conflictError(undefined)).toBeUndefined();
  });

  it("marks scaffolding as NOT_IMPLEMENTED", () => {
    const d = decodeServiceError(toServiceError(unimplemented("ListTrash")));
    expect(d).toMatchObject({ code: status.UNIMPLEMENTED, reason: "NOT_IMPLEMENTED" });
  });

  it("decodes errors without details to an empty reason", () => {
    expect(decodeServiceError({ code: status.UNAVAILABLE, details: "down" })).toMatchObject({
      code: status.UNAVAILABLE,
      reason: "",
      message: "down",
    });
    expect(new AppError(status.NOT_FOUND, "FILE_NOT_FOUND", "y").reason).toBe("FILE_NOT_FOUND");
  });
});
