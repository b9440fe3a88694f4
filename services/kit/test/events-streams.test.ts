// Stream definitions and ensureStreams against the shared NATS (streams named per run).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectNats,
  ensureStreams,
  FILEMESH_STREAMS,
  type NatsHandle,
  parseNatsUrl,
  type StreamDef,
} from "../src/events/index.js";
import { log, NATS_URL, testStreamDef, uniq } from "./events-support.js";

describe("streams", () => {
  const runId = uniq();
  const driftId = uniq();
  let nats: NatsHandle;
  let defs: StreamDef[];

  beforeAll(async () => {
    nats = await connectNats({ url: NATS_URL, name: `test-${runId}`, log });
    // The real definitions, renamed so this run never touches the shared AUTH/USERS/... streams.
    defs = FILEMESH_STREAMS.map((d) => ({
      ...d,
      name: `T_${runId.toUpperCase()}_${d.name}`,
      subjects: d.subjects.map((s) => `t${runId}.${s}`),
    }));
  });

  afterAll(async () => {
    for (const d of [...defs, testStreamDef(driftId)])
      await nats.jsm.streams.delete(d.name).catch(() => undefined);
    await nats.close();
  });

  it("defines one file-backed stream per domain", () => {
    expect(FILEMESH_STREAMS.map((d) => [d.name, d.subjects])).toEqual([
      ["AUTH", ["filemesh.auth.>"]],
      ["USERS", ["filemesh.users.>"]],
      ["FILES", ["filemesh.files.>"]],
      ["ACL", ["filemesh.acl.>"]],
    ]);
    for (const d of FILEMESH_STREAMS) expect(d.duplicateWindowMs).toBe(120_000);
  });

  it("creates the streams once and leaves them alone afterwards", async () => {
    const first = await ensureStreams(nats.jsm, defs);
    expect(first.map((r) => r.action)).toEqual(["created", "created", "created", "created"]);
    const second = await ensureStreams(nats.jsm, defs);
    expect(second.map((r) => r.action)).toEqual(["unchanged", "unchanged", "unchanged", "unchanged"]);

    const info = await nats.jsm.streams.info(defs[0]!.name);
    expect(info.config.storage).toBe("file");
    expect(info.config.retention).toBe("limits");
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
    expect(info.config.subjects).toEqual([`t${runId}.filemesh.auth.>`]);
  });

  it("updates a drifted stream in place, keeping its messages", async () => {
    const def = testStreamDef(driftId);
    await ensureStreams(nats.jsm, [def]);
    await nats.js.publish(`t${driftId}.x`, new Uint8Array([1]), { msgID: "m1" });
    const changed = { ...def, maxAgeMs: 2 * def.maxAgeMs, subjects: [...def.subjects, `u${driftId}.>`] };
    const [r] = await ensureStreams(nats.jsm, [changed]);
    expect(r?.action).toBe("updated");
    expect(r?.changed.sort()).toEqual(["max_age", "subjects"]);
    const [again] = await ensureStreams(nats.jsm, [changed]);
    expect(again?.action).toBe("unchanged");
    const info = await nats.jsm.streams.info(def.name);
    expect(info.state.messages).toBe(1);
    expect(info.config.subjects.sort()).toEqual([`t${driftId}.>`, `u${driftId}.>`]);
  });

  it("builds no error ahead of every request or publish (noAsyncTraces)", () => {
    const options = (nats.nc as unknown as { options: { noAsyncTraces?: boolean } }).options;
    expect(options.noAsyncTraces).toBe(true);
  });

  it("keeps credentials out of the server list", () => {
    expect(parseNatsUrl("nats://alice:s3cr%40t@10.0.0.1:4222, nats://10.0.0.2:4222")).toEqual({
      servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
      user: "alice",
      pass: "s3cr@t",
    });
    expect(parseNatsUrl("tok@127.0.0.1:4222")).toEqual({ servers: ["nats://127.0.0.1:4222"], token: "tok" });
  });
});
