// The dead-letter path on a real nats-server and database: an event that keeps failing goes to
// DEADLETTER after MAX_DELIVER deliveries (a poison one at once), the worker's follow-up runs,
// filemesh_dead_letters_total counts it, and RedriveDeadLetters puts it back for that worker only.
import { randomUUID } from "node:crypto";
import { eventsv1, processorv1 } from "@filemesh/contracts";
import { createLogger, EVENT_TYPE_HEADER, runSubject } from "@filemesh/kit";
import { call, failure } from "@filemesh/kit/testing";
import { credentials, status } from "@grpc/grpc-js";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Processor, startProcessor } from "../src/app.js";
import { loadProcessorConfig } from "../src/config.js";
import type { Worker } from "../src/events/workers.js";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";

const SUBJECT = "filemesh.files.dlq_test";
const WORKER = "dlqtest-flaky";

let pm: ProcessorMesh;
let proc: Processor;
let client: processorv1.ProcessorServiceClient;
let nc: NatsConnection;
let js: JetStreamClient;
let broken = true;
const applied: string[] = [];
const followUps: { id: string; reason: string }[] = [];

function flakyWorker(): Worker {
  return {
    name: WORKER,
    stream: "FILES",
    filterSubject: SUBJECT,
    async handle(event) {
      if (broken) throw new Error(`downstream refused ${event.id}`);
      applied.push(event.id);
    },
    async onDeadLetter(event, reason) {
      followUps.push({ id: event.id, reason });
    },
  };
}

async function publish(msgId: string): Promise<void> {
  const h = headers();
  h.set(EVENT_TYPE_HEADER, "filemesh.events.v1.FileTrashed");
  const meta = {
    eventId: msgId,
    occurTime: new Date(),
    actor: "service:test",
    requestId: "",
    traceparent: "",
    resource: "file:x",
  };
  const payload = eventsv1.FileTrashed.encode({ meta, fileId: "x" }).finish();
  await js.publish(runSubject(pm.mesh.env.RUN_PREFIX!, SUBJECT), payload, { msgID: msgId, headers: h });
}

async function deadLetterCount(consumer: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proc.runtime.adminPort}/metrics`)).text();
  const m = new RegExp(`^filemesh_dead_letters_total\\{[^}]*consumer="${consumer}"[^}]*\\} (\\d+)`, "m").exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

const deadLetters = () => proc.workers.deadLetters()!.list();

beforeAll(async () => {
  pm = await startProcessorMesh({ services: ["auth"] });
  const config = loadProcessorConfig({
    ...pm.mesh.env,
    ADMIN_EMAILS: "",
    CONSUMER_PREFIX: "dlqtest",
    MAX_DELIVER: "3",
    RETRY_BACKOFF: "50ms",
    LOG_LEVEL: "silent",
  });
  proc = await startProcessor(config, createLogger({ service: "processor", level: "silent" }), {
    extraWorkers: () => [flakyWorker()],
  });
  await proc.workers.ready;
  client = new processorv1.ProcessorServiceClient(
    `127.0.0.1:${proc.runtime.port}`,
    credentials.createInsecure(),
  );
  nc = await connect({ servers: pm.nats.url });
  js = jetstream(nc);
});

afterAll(async () => {
  client?.close();
  await nc?.close();
  await proc?.runtime.shutdown("test end");
  await pm?.stop();
});

describe("dead letters", () => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];

  it("moves an event to DEADLETTER after MAX_DELIVER failed deliveries", async () => {
    for (const id of ids) await publish(id);
    const letters = await eventually("three dead letters", async () => {
      const l = (await deadLetters()).filter((d) => d.worker === WORKER);
      return l.length === 3 ? l : undefined;
    });
    expect(letters.map((l) => l.eventId).sort()).toEqual([...ids].sort());
    for (const l of letters) {
      expect(l).toMatchObject({ subject: SUBJECT, deliveries: 3, type: "filemesh.events.v1.FileTrashed" });
      expect(l.error).toContain("downstream refused");
    }
    expect(followUps.map((f) => f.id).sort()).toEqual([...ids].sort());
    expect(await deadLetterCount(WORKER)).toBe(3);
    expect(applied).toEqual([]);
  });

  it("dead-letters a poison event on its first delivery", async () => {
    await js.publish(
      runSubject(pm.mesh.env.RUN_PREFIX!, "filemesh.files.file_trashed"),
      new Uint8Array([1, 2, 3]),
      { msgID: "not-a-uuid" },
    );
    const letter = await eventually("the poison dead letter", async () =>
      (await deadLetters()).find((d) => d.eventId === "not-a-uuid"),
    );
    expect(letter).toMatchObject({
      worker: "dlqtest-audit-files",
      deliveries: 1,
      subject: "filemesh.files.file_trashed",
    });
    expect(letter.error).toContain("not a UUID");
    expect(await deadLetterCount("dlqtest-audit-files")).toBe(1);
  });

  it("redrives chosen events, then the rest, to their worker only", async () => {
    broken = false;
    const admin = pm.admin.headers;
    const redrive = (eventIds: string[]) =>
      call(
        client.redriveDeadLetters.bind(client),
        processorv1.RedriveDeadLettersRequest.fromPartial({ eventIds }),
        admin,
      );
    expect(await redrive([ids[0]!])).toEqual({ redriven: 1 });
    await eventually("the first event applied", async () => applied.includes(ids[0]!));
    expect((await deadLetters()).filter((d) => d.worker === WORKER)).toHaveLength(2);

    // The rest: the two left and the poison one (which fails again, at once).
    const redrivenAt = Date.now();
    expect(await redrive([])).toEqual({ redriven: 3 });
    await eventually("all applied", async () => applied.length === 3);
    expect([...applied].sort()).toEqual([...ids].sort());
    const left = await eventually("the poison event dead again", async () => {
      const l = await deadLetters();
      return l.length === 1 && l[0]?.eventId === "not-a-uuid" ? l : undefined;
    });
    expect(left[0]!.worker).toBe("dlqtest-audit-files");
    expect(await deadLetterCount("dlqtest-audit-files")).toBe(2);
    // Redriven again inside REDRIVE's 5 s duplicate window: not stored, so the entry stays.
    const again = await redrive([]);
    if (Date.now() - redrivenAt < 4500) expect(again).toEqual({ redriven: 0 });
    if (again.redriven === 0) expect(await deadLetters()).toHaveLength(1);
    // The audit worker saw the test events once each, through the stream, not the redrive.
    const { rows } = await pm.pool.query(
      "SELECT event_id FROM jobs.audit_events WHERE event_id = ANY($1::uuid[])",
      [ids],
    );
    expect(rows).toHaveLength(3);
    // Nothing more is applied: redriving an id that is not dead-lettered changes nothing.
    expect(await redrive([ids[1]!])).toEqual({ redriven: 0 });
    expect(applied).toHaveLength(3);
  });

  it("refuses non-admins and malformed ids", async () => {
    const user = await pm.mesh.newUser();
    const redrive = client.redriveDeadLetters.bind(client);
    const req = processorv1.RedriveDeadLettersRequest.fromPartial({});
    expect(await failure(call(redrive, req, user.headers))).toMatchObject({
      code: status.PERMISSION_DENIED,
      reason: "ADMIN_REQUIRED",
    });
    const bad = processorv1.RedriveDeadLettersRequest.fromPartial({ eventIds: ["../x"] });
    expect(await failure(call(redrive, bad, pm.admin.headers))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "INVALID_EVENT_ID",
    });
  });
});
