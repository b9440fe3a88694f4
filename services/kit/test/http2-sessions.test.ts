// The http2 sessions of the kit's server and clients keep their streams in a map and a set that
// do not chain their stores (grpc/http2-sessions.ts): what node:http2 does with them (add, find,
// remove, destroy all open streams) still works, and a finished call is not kept alive through them.

import { once } from "node:events";
import http2 from "node:http2";
import { processorv1 } from "@filemesh/contracts";
import type { Server } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { checkHealth } from "../../../scripts/lib/health.mjs";
import { createClient } from "../src/client.js";
import { isUntangled, StreamMap, StreamSet, untangleHttp2Sessions } from "../src/grpc/http2-sessions.js";
import { createRuntime, type Runtime } from "../src/server.js";
import { call, captureLogger, loopbackRuntimeOptions } from "../src/testing/index.js";

let runtime: Runtime | undefined;
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await runtime?.shutdown("test end");
  runtime = undefined;
});

/** The http2 sessions grpc-js holds for a server (its private map of http2 servers, tests only). */
function serverSessions(server: Server): http2.ServerHttp2Session[] {
  const servers = (
    server as unknown as { http2Servers: Map<unknown, { sessions: Set<http2.ServerHttp2Session> }> }
  ).http2Servers;
  return [...servers.values()].flatMap((s) => [...s.sessions]);
}

describe("StreamMap", () => {
  it("adds, finds and removes streams by id, counting them", () => {
    const m = new StreamMap<string>();
    expect(m.size).toBe(0);
    m.set(3, "a").set(1, "b").set(5, "c");
    m.set(3, "a2"); // replacing is not adding
    expect(m.size).toBe(3);
    expect(m.get(3)).toBe("a2");
    expect(m.get(7)).toBeUndefined();
    expect(m.has(1)).toBe(true);
    expect(m.delete(1)).toBe(true);
    expect(m.delete(1)).toBe(false);
    expect(m.size).toBe(2);
    expect([...m.keys()]).toEqual([3, 5]);
    expect([...m.values()]).toEqual(["a2", "c"]);
    expect([...m]).toEqual([
      [3, "a2"],
      [5, "c"],
    ]);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get(3)).toBeUndefined();
  });

  it("skips in forEach a stream removed before it is reached, as a Map does", () => {
    const m = new StreamMap<string>();
    m.set(1, "a").set(3, "b").set(5, "c");
    const seen: number[] = [];
    m.forEach((_, id) => {
      seen.push(id);
      if (id === 1) m.delete(5); // destroying one stream closes another
      m.delete(id); // node:http2's destroy removes the stream it visits
    });
    expect(seen).toEqual([1, 3]);
    expect(m.size).toBe(0);
  });
});

describe("StreamSet", () => {
  it("adds each stream once, removes it, and skips in forEach one removed before it is reached", () => {
    const s = new StreamSet<string>();
    s.add("a").add("b").add("a").add("c");
    expect(s.size).toBe(3);
    expect(s.has("b")).toBe(true);
    expect(s.delete("b")).toBe(true);
    expect(s.delete("b")).toBe(false);
    expect([...s]).toEqual(["a", "c"]);
    const seen: string[] = [];
    s.forEach((v) => {
      seen.push(v);
      s.delete("c");
    });
    expect(seen).toEqual(["a"]);
    s.clear();
    expect(s.size).toBe(0);
  });
});

describe("untangled http2 sessions", () => {
  it("are what the kit's server and clients get, and their calls work", async () => {
    const { log } = captureLogger("kit-test");
    runtime = createRuntime(loopbackRuntimeOptions("processor", { log }));
    runtime.addPartial(processorv1.ProcessorServiceService, {
      runJanitor: async () => ({
        expiredUploads: 2,
        purgedTrash: 0,
        removedOrphanObjects: 0,
        markedMissingRows: 0,
        abortedOrphanUploads: 0,
      }),
    });
    await runtime.start();
    const addr = `127.0.0.1:${runtime.port}`;
    expect(await checkHealth(addr)).toBe("SERVING");
    const client = createClient(processorv1.ProcessorServiceClient, { addrs: [addr] });
    closers.push(() => client.close());
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => call(client.runJanitor.bind(client), {})),
    );
    expect(answers.map((a) => a.expiredUploads)).toEqual(Array(40).fill(2));

    const sessions = serverSessions(runtime.server);
    expect(sessions.length).toBeGreaterThanOrEqual(1); // the client's (the health check's may be closed)
    expect(sessions.map(isUntangled)).toEqual(sessions.map(() => true));
  });

  it("destroys the open streams of a session that is destroyed, on both ends", async () => {
    untangleHttp2Sessions();
    const server = http2.createServer();
    const serverStreams: http2.ServerHttp2Stream[] = [];
    let serverSession: http2.ServerHttp2Session | undefined;
    server.on("session", (s) => {
      serverSession = s;
    });
    server.on("stream", (stream) => {
      serverStreams.push(stream); // never answered
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    closers.push(() => server.close());
    const { port } = server.address() as { port: number };
    const client = http2.connect(`http://127.0.0.1:${port}`);
    closers.push(() => client.destroy());
    expect(isUntangled(client)).toBe(true);

    const requests = Array.from({ length: 3 }, () => {
      const r = client.request({ ":path": "/" });
      r.on("error", () => {});
      r.end();
      return r;
    });
    while (serverStreams.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(isUntangled(serverSession!)).toBe(true);

    const serverClosed = serverStreams.map((s) => once(s, "close"));
    const clientClosed = requests.map((r) => once(r, "close"));
    serverSession!.destroy();
    await Promise.all([...serverClosed, ...clientClosed]);
    expect(serverStreams.map((s) => s.destroyed)).toEqual([true, true, true]);
    expect(requests.map((r) => r.destroyed)).toEqual([true, true, true]);
  });
});
