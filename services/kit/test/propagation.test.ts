// Request id, W3C traceparent and the deadline travel from an incoming call to the calls it
// makes (kit client + tracing middleware), across two real servers.

import { processorv1 } from "@filemesh/contracts";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, outgoing, targetFor, unary } from "../src/client.js";
import type { CallContext } from "../src/grpc/context.js";
import type { Handlers } from "../src/grpc/service.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { call, captureLogger, loopbackRuntimeOptions } from "../src/testing/index.js";
import { traceIdOf } from "../src/tracing.js";

let front: Runtime;
let back: Runtime;
const seen: { ctx?: CallContext } = {};

async function runtime(
  handlers: Partial<Handlers<typeof processorv1.ProcessorServiceService>>,
): Promise<Runtime> {
  const rt = createRuntime(loopbackRuntimeOptions("processor", { log: captureLogger().log }));
  rt.addPartial(processorv1.ProcessorServiceService, handlers);
  await rt.start();
  return rt;
}

beforeAll(async () => {
  back = await runtime({
    runJanitor: async (_req, ctx) => {
      seen.ctx = ctx;
      return {
        expiredUploads: 0,
        purgedTrash: 0,
        removedOrphanObjects: 0,
        markedMissingRows: 0,
        abortedOrphanUploads: 0,
      };
    },
  });
  const client = createClient(processorv1.ProcessorServiceClient, { addrs: [`127.0.0.1:${back.port}`] });
  front = await runtime({
    redriveDeadLetters: async (_req, ctx) => {
      await unary(client, client.runJanitor, {}, { ctx, timeoutMs: 60_000 });
      return { redriven: 1 };
    },
  });
});
afterAll(async () => {
  await front.shutdown();
  await back.shutdown();
});

describe("propagation", () => {
  it("forwards the request id, continues the trace and keeps the caller's deadline", async () => {
    const c = new processorv1.ProcessorServiceClient(`127.0.0.1:${front.port}`, credentials.createInsecure());
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const before = Date.now();
    await call(
      c.redriveDeadLetters.bind(c),
      { eventIds: [] },
      { "x-request-id": "req-42", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      5_000,
    );
    c.close();
    expect(seen.ctx?.requestId).toBe("req-42");
    expect(traceIdOf(seen.ctx?.traceparent)).toBe(traceId);
    // The inner call's deadline is the outer one (5 s), not its own 60 s default.
    expect(seen.ctx?.deadline).toBeGreaterThan(before);
    expect(seen.ctx!.deadline!).toBeLessThanOrEqual(before + 5_000 + 50);
  });

  it("starts a trace and a request id when the caller sends none, and refuses hostile ids", async () => {
    const c = new processorv1.ProcessorServiceClient(`127.0.0.1:${front.port}`, credentials.createInsecure());
    await call(
      c.redriveDeadLetters.bind(c),
      { eventIds: [] },
      { "x-request-id": `<script>${"x".repeat(300)}` },
    );
    c.close();
    expect(seen.ctx?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(traceIdOf(seen.ctx?.traceparent)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("outgoing", () => {
  it("uses the default timeout without a caller, and the shorter of both with one", () => {
    const now = Date.now();
    expect(outgoing({ timeoutMs: 1_000 }).options.deadline).toBeGreaterThanOrEqual(now + 1_000);
    const o = outgoing({
      ctx: { deadline: now + 200, requestId: "r", metadata: undefined as never },
      timeoutMs: 5_000,
    });
    expect(o.options.deadline).toBe(now + 200);
    expect(o.metadata.get("x-request-id")).toEqual(["r"]);
  });

  it("targets replicas round-robin by IPv4 list, or a DNS name", () => {
    expect(targetFor(["127.0.0.1:50051", "127.0.0.1:50061"])).toBe("ipv4:127.0.0.1:50051,127.0.0.1:50061");
    expect(targetFor(["auth.filemesh.svc:50051"])).toBe("dns:///auth.filemesh.svc:50051");
    expect(() => targetFor([])).toThrow();
  });
});
