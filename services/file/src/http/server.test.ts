import { createLogger } from "@filemesh/kit";
import { afterEach, describe, expect, it } from "vitest";
import { createHttpRouter, type HttpListener, startHttpListener } from "./server.js";

const log = createLogger({ service: "test", level: "silent" });
let listener: HttpListener | undefined;
afterEach(async () => {
  await listener?.close(100);
  listener = undefined;
});

describe("the file service's HTTP listener", () => {
  it("routes by the longest prefix, the prefix without its slash too; anything else is 404", () => {
    const r = createHttpRouter();
    const a = () => {};
    const b = () => {};
    r.mount("/v1/tus/", a);
    r.mount("/v1/tus/special/", b);
    expect(r.match("/v1/tus/abc")).toEqual({ handler: a, rest: "abc" });
    expect(r.match("/v1/tus")).toEqual({ handler: a, rest: "" });
    expect(r.match("/v1/tus/special/x")).toEqual({ handler: b, rest: "x" });
    expect(r.match("/v1/tusx")).toBeUndefined();
    expect(r.match("/v1/data/x")).toBeUndefined();
    expect(() => r.mount("/v1/tus/", a)).toThrow(/twice/);
    expect(() => r.mount("no-slash", a)).toThrow(/invalid/);
    expect(() => r.mount("/../", a)).not.toThrow(); // a literal segment name, never a path walk
  });

  it("serves mounted handlers and /healthz, 404 otherwise; close() refuses new connections and lets a request in flight finish", async () => {
    const router = createHttpRouter();
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    router.mount("/v1/echo/", async (_req, res, rest) => {
      if (rest === "slow") await held;
      res.end(`rest=${rest}`);
    });
    listener = await startHttpListener({ host: "127.0.0.1", port: 0, router, log });
    const base = `http://127.0.0.1:${listener.port}`;
    expect(await (await fetch(`${base}/v1/echo/a%2Fb?q=1`)).text()).toBe("rest=a%2Fb");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    // A request in flight finishes after close() began; new connections are refused.
    const slow = fetch(`${base}/v1/echo/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    const began = Date.now();
    const closing = listener.close(5_000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    release();
    expect(await slow).toBe("rest=slow");
    await closing;
    expect(Date.now() - began).toBeLessThan(2_000); // not the 5 s timeout: the answered connection closed
    listener = undefined;
  });

  it("a throwing handler answers 500 and the listener keeps serving", async () => {
    const router = createHttpRouter();
    router.mount("/v1/boom/", () => {
      throw new Error("boom");
    });
    listener = await startHttpListener({ host: "127.0.0.1", port: 0, router, log });
    const base = `http://127.0.0.1:${listener.port}`;
    const r = await fetch(`${base}/v1/boom/x`);
    expect(r.status).toBe(500);
    expect(await r.text()).not.toContain("boom");
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
