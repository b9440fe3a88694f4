// A unary call whose chain completes as it is dispatched (the handler answers at once and every
// middleware passes next()'s promise on) is answered without a promise of its own (DONE,
// grpc/middleware.ts): still counted once in the metrics, logged when it fails, and the same
// for a chain where something waits.

import { processorv1 } from "@filemesh/contracts";
import { credentials, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { failedPrecondition } from "../src/errors.js";
import { DONE, type Middleware } from "../src/grpc/middleware.js";
import type { Handlers } from "../src/grpc/service.js";
import { createRegistry, observeMiddleware } from "../src/metrics.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { call, captureLogger, failure, loopbackRuntimeOptions } from "../src/testing/index.js";

type Janitor = Handlers<typeof processorv1.ProcessorServiceService>["runJanitor"];
const ANSWER = {
  expiredUploads: 7,
  purgedTrash: 0,
  removedOrphanObjects: 0,
  markedMissingRows: 0,
  abortedOrphanUploads: 0,
};
let runtime: Runtime | undefined;

afterEach(async () => {
  await runtime?.shutdown("test end");
  runtime = undefined;
});

async function start(runJanitor: Janitor, ...middlewares: Middleware[]) {
  const { log, lines } = captureLogger("kit-test", "info");
  runtime = createRuntime(loopbackRuntimeOptions("processor", { log }));
  runtime.use(...middlewares);
  runtime.addPartial(processorv1.ProcessorServiceService, { runJanitor });
  await runtime.start();
  const client = new processorv1.ProcessorServiceClient(
    `127.0.0.1:${runtime.port}`,
    credentials.createInsecure(),
  );
  const rt = runtime;
  const metrics = async () => (await fetch(`http://127.0.0.1:${rt.adminPort}/metrics`)).text();
  return { client, lines, metrics };
}

const handled = (code: string, n: number) =>
  new RegExp(
    `grpc_server_handled_total\\{[^}]*grpc_method="RunJanitor"[^}]*grpc_code="${code}"[^}]*\\} ${n}\\n`,
  );
const timed = (n: number) =>
  new RegExp(`grpc_server_handling_seconds_count\\{[^}]*grpc_method="RunJanitor"[^}]*\\} ${n}\\n`);

describe("a call answered at once", () => {
  it("gets its answer and is counted once, as a call answered later is", async () => {
    const { client, metrics } = await start(() => ANSWER); // not a promise
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call(client.runJanitor.bind(client), {})),
    );
    expect(answers.map((a) => a.expiredUploads)).toEqual([7, 7, 7, 7, 7]);
    const text = await metrics();
    expect(text).toMatch(handled("OK", 5));
    expect(text).toMatch(timed(5));
    expect(text).toMatch(/grpc_server_started_total\{[^}]*grpc_method="RunJanitor"[^}]*\} 5\n/);
  });

  it("answers a handler that throws at once with its status, counted and logged", async () => {
    const { client, lines, metrics } = await start(() => {
      throw failedPrecondition("FILE_NOT_READY", "not ready yet");
    });
    const err = await failure(call(client.runJanitor.bind(client), {}));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.reason).toBe("FILE_NOT_READY");
    expect(await metrics()).toMatch(handled("FAILED_PRECONDITION", 1));
    const line = lines
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "rpc" && l.reason === "FILE_NOT_READY");
    expect(line?.code).toBe("FAILED_PRECONDITION");
  });

  it("is counted once when a middleware after observe waits (its own promise, not DONE)", async () => {
    let after = 0;
    const waits: Middleware = async (_ctx, next) => {
      await next();
      after++;
    };
    const { client, metrics } = await start(() => ANSWER, waits);
    const answer = await call(client.runJanitor.bind(client), {});
    expect(answer.expiredUploads).toBe(7);
    expect(after).toBe(1);
    const text = await metrics();
    expect(text).toMatch(handled("OK", 1));
    expect(text).toMatch(timed(1));
  });
});

describe("observeMiddleware", () => {
  const ctx = () =>
    ({
      method: { path: "/p.S/M", service: "p.S", method: "M", clientStreaming: false, serverStreaming: false },
      logs: () => false,
      log: captureLogger().log,
    }) as never;

  it("passes DONE on when the rest of the chain completed at once, and a promise otherwise", async () => {
    const observe = observeMiddleware(createRegistry("kit-test"));
    expect(observe(ctx(), () => DONE)).toBe(DONE);
    const later = Promise.resolve();
    const settled = observe(ctx(), () => later);
    expect(settled).not.toBe(DONE);
    await expect(settled).resolves.toBeUndefined();
    const boom = new Error("boom");
    await expect(
      observe(ctx(), () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });
});
