// The service runtime against a real server on loopback: health, reflection, metrics,
// error details, NOT_IMPLEMENTED scaffolding and graceful shutdown.

import { EventEmitter, once } from "node:events";
import { processorv1 } from "@filemesh/contracts";
import { Client, credentials, Metadata, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { checkHealth } from "../../../scripts/lib/health.mjs";
import { failedPrecondition } from "../src/errors.js";
import type { Handlers } from "../src/grpc/service.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { call, captureLogger, failure, listServices, loopbackRuntimeOptions } from "../src/testing/index.js";

const SERVICE = "filemesh.processor.v1.ProcessorService";
let runtime: Runtime | undefined;

async function start(
  handlers: Partial<Handlers<typeof processorv1.ProcessorServiceService>>,
  shutdownTimeoutMs = 5_000,
) {
  const { log, lines } = captureLogger("kit-test");
  runtime = createRuntime(loopbackRuntimeOptions("processor", { log, shutdownTimeoutMs }));
  runtime.addPartial(processorv1.ProcessorServiceService, handlers);
  await runtime.start();
  const addr = `127.0.0.1:${runtime.port}`;
  const client = new processorv1.ProcessorServiceClient(addr, credentials.createInsecure());
  return { addr, client, lines, rt: runtime };
}

afterEach(async () => {
  await runtime?.shutdown("test end");
  runtime = undefined;
});

describe("service runtime", () => {
  it("serves health, reflection and metrics", async () => {
    const { addr, client, rt } = await start({
      runJanitor: async () => ({
        expiredUploads: 3,
        purgedTrash: 0,
        removedOrphanObjects: 0,
        markedMissingRows: 0,
        abortedOrphanUploads: 0,
      }),
    });
    expect(await checkHealth(addr)).toBe("SERVING");
    expect(await checkHealth(addr, SERVICE)).toBe("SERVING");
    expect(await listServices(addr)).toEqual([SERVICE]);
    // Not ready (catching up, draining) is not dead: the liveness name stays SERVING.
    rt.health.set("NOT_SERVING");
    expect(await checkHealth(addr)).toBe("NOT_SERVING");
    expect(await checkHealth(addr, "liveness")).toBe("SERVING");
    rt.health.set("SERVING");
    const res = await call(client.runJanitor.bind(client), {});
    expect(res.expiredUploads).toBe(3);
    const text = await (await fetch(`http://127.0.0.1:${rt.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /grpc_server_handled_total\{grpc_service="filemesh.processor.v1.ProcessorService",grpc_method="RunJanitor",grpc_type="unary",grpc_code="OK",service="processor"\} 1/,
    );
    expect(text).toContain("grpc_server_handling_seconds_bucket");
    client.close();
  });

  it("counts and logs a store fault as what the caller got (UNAVAILABLE), not INTERNAL", async () => {
    const { client, lines, rt } = await start({
      runJanitor: async () => {
        throw Object.assign(new Error("Connection terminated unexpectedly"), {});
      },
    });
    const e = await failure(call(client.runJanitor.bind(client), {}));
    expect(e).toMatchObject({ code: status.UNAVAILABLE, reason: "DATABASE_UNAVAILABLE" });
    const text = await (await fetch(`http://127.0.0.1:${rt.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /grpc_server_handled_total\{[^}]*grpc_method="RunJanitor"[^}]*grpc_code="UNAVAILABLE"[^}]*\} 1/,
    );
    expect(text).not.toMatch(/grpc_method="RunJanitor"[^}]*grpc_code="INTERNAL"/);
    const line = lines.find((l) => l.includes("RunJanitor") && l.includes('"level":"warn"'));
    expect(line).toContain('"code":"UNAVAILABLE"');
    expect(line).toContain('"reason":"DATABASE_UNAVAILABLE"');
    client.close();
  });

  it("counts and logs a call the client cancelled, or whose deadline passed, as such, not INTERNAL", async () => {
    // The handler waits on the call's signal, as a queued database checkout or a stream's
    // drain does; the rejection it gets is the signal's reason.
    const { client, lines, rt } = await start({
      runJanitor: async (_req, ctx) => {
        await once(new EventEmitter(), "never", { signal: ctx.signal });
        throw new Error("unreachable");
      },
    });
    const cancelled = client.runJanitor({}, () => {});
    await new Promise((r) => setTimeout(r, 150));
    cancelled.cancel();
    const late = await failure(
      new Promise((resolve, reject) =>
        // 2 s: the server may read the call late under load (CI), so the client's cancel at its
        // deadline reaches it early on its clock; up to a quarter of the budget counts as late.
        client.runJanitor({}, new Metadata(), { deadline: Date.now() + 2000 }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      ),
    );
    expect(late.code).toBe(status.DEADLINE_EXCEEDED);
    const until = Date.now() + 3000;
    let text = "";
    while (Date.now() < until) {
      text = await (await fetch(`http://127.0.0.1:${rt.adminPort}/metrics`)).text();
      if (/grpc_code="CANCELLED"/.test(text) && /grpc_code="DEADLINE_EXCEEDED"/.test(text)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(text).toMatch(/grpc_method="RunJanitor"[^}]*grpc_code="CANCELLED"[^}]*\} 1/);
    expect(text).toMatch(/grpc_method="RunJanitor"[^}]*grpc_code="DEADLINE_EXCEEDED"[^}]*\} 1/);
    expect(text).not.toMatch(/grpc_method="RunJanitor"[^}]*grpc_code="INTERNAL"/);
    expect(lines.filter((l) => l.includes("rpc failed"))).toEqual([]);
    client.close();
  });

  it("answers NOT_IMPLEMENTED for methods without a handler and maps typed errors", async () => {
    const { client, lines } = await start({
      listAuditEvents: async () => {
        throw failedPrecondition("FILE_NOT_READY", "audit log disabled");
      },
      redriveDeadLetters: async () => {
        throw new Error("db password=hunter2 leaked in a driver message");
      },
    });
    const a = await failure(call(client.runJanitor.bind(client), {}));
    expect(a).toMatchObject({
      code: status.UNIMPLEMENTED,
      reason: "NOT_IMPLEMENTED",
      domain: "processor.filemesh",
    });
    const b = await failure(
      call(client.listAuditEvents.bind(client), processorv1.ListAuditEventsRequest.fromPartial({})),
    );
    expect(b).toMatchObject({
      code: status.FAILED_PRECONDITION,
      reason: "FILE_NOT_READY",
      message: "audit log disabled",
    });
    const c = await failure(call(client.redriveDeadLetters.bind(client), { eventIds: [] }));
    expect(c).toMatchObject({ code: status.INTERNAL, reason: "INTERNAL", message: "internal error" });
    // The cause is logged on the server (for operators), never sent to the client.
    expect(lines.some((l) => l.includes('"code":"INTERNAL"'))).toBe(true);
    client.close();
  });

  it("takes a unary handler's answer given at once, and maps what it throws at once", async () => {
    let calls = 0;
    const { client, rt } = await start({
      // Plain functions (no promise): as a handler with nothing to wait for answers.
      runJanitor: () => ({
        expiredUploads: ++calls,
        purgedTrash: 0,
        removedOrphanObjects: 0,
        markedMissingRows: 0,
        abortedOrphanUploads: 0,
      }),
      listAuditEvents: () => {
        throw failedPrecondition("FILE_NOT_READY", "audit log disabled");
      },
    });
    expect((await call(client.runJanitor.bind(client), {})).expiredUploads).toBe(1);
    expect((await call(client.runJanitor.bind(client), {})).expiredUploads).toBe(2);
    const e = await failure(
      call(client.listAuditEvents.bind(client), processorv1.ListAuditEventsRequest.fromPartial({})),
    );
    expect(e).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "FILE_NOT_READY" });
    const text = await (await fetch(`http://127.0.0.1:${rt.adminPort}/metrics`)).text();
    expect(text).toMatch(/grpc_method="RunJanitor"[^}]*grpc_code="OK"[^}]*\} 2/);
    expect(text).toMatch(/grpc_method="ListAuditEvents"[^}]*grpc_code="FAILED_PRECONDITION"[^}]*\} 1/);
    client.close();
  });

  it("answers INVALID_ARGUMENT (not INTERNAL) to bytes that are not the method's message", async () => {
    const { addr, client } = await start({
      runJanitor: async () => ({
        expiredUploads: 0,
        purgedTrash: 0,
        removedOrphanObjects: 0,
        markedMissingRows: 0,
        abortedOrphanUploads: 0,
      }),
    });
    const raw = new Client(addr, credentials.createInsecure());
    const send = (bytes: Buffer) =>
      new Promise<unknown>((resolve, reject) =>
        raw.makeUnaryRequest(
          "/filemesh.processor.v1.ProcessorService/RedriveDeadLetters",
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
    // Field 1 (repeated string) announced with a length far past the end of the buffer.
    const err = await failure(send(Buffer.from([0x0a, 0xff, 0x7f, 0x41])));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "MALFORMED_REQUEST" });
    raw.close();
    client.close();
  });

  it("shuts down gracefully: NOT_SERVING first, in-flight calls finish, then the port closes", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const { addr, client, rt } = await start({
      runJanitor: async () => {
        entered();
        await gate;
        return {
          expiredUploads: 7,
          purgedTrash: 0,
          removedOrphanObjects: 0,
          markedMissingRows: 0,
          abortedOrphanUploads: 0,
        };
      },
    });
    const inflight = call(client.runJanitor.bind(client), {});
    await inside;
    const stopping = rt.shutdown("test");
    expect(rt.health.status).toBe("NOT_SERVING");
    release();
    expect((await inflight).expiredUploads).toBe(7);
    await stopping;
    expect(await checkHealth(addr)).toBe("DOWN");
    runtime = undefined;
    client.close();
  });

  it("cancels calls still running when the shutdown timeout passes", async () => {
    const { client, rt } = await start({ runJanitor: () => new Promise(() => {}) }, 300);
    const inflight = failure(call(client.runJanitor.bind(client), {}));
    await new Promise((r) => setTimeout(r, 100));
    await rt.shutdown("test");
    const err = await inflight;
    expect([status.CANCELLED, status.UNAVAILABLE]).toContain(err.code);
    runtime = undefined;
    client.close();
  });
});
