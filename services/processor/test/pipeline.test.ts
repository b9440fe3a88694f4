// The post-upload worker on a real nats-server, database and fs blob store, with the file
// service's SetFileState replaced by a recorder: what each kind of upload ends as, retries of
// transient failures, and the dead-letter → REJECTED(PROCESSING_FAILED) → redrive → READY path.
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { eventsv1, processorv1 } from "@filemesh/contracts";
import { Code, createLogger, EVENT_TYPE_HEADER, runSubject } from "@filemesh/kit";
import { createFsStore, newObjectKey, thumbnailKey } from "@filemesh/kit/blob";
import { call } from "@filemesh/kit/testing";
import { credentials } from "@grpc/grpc-js";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Processor, startProcessor } from "../src/app.js";
import { loadProcessorConfig } from "../src/config.js";
import type { FileStateChange, FileStates } from "../src/pipeline/file-states.js";
import { eventually, type ProcessorMesh, startProcessorMesh } from "./support.js";
import { fakePng } from "./uploads-support.js";

let pm: ProcessorMesh;
let proc: Processor;
let nc: NatsConnection;
let js: JetStreamClient;
const blobDir = mkdtempSync(join(tmpdir(), "filemesh-processor-"));
const blobs = createFsStore(blobDir);

/** SetFileState as recorded; events in `failing` are refused with UNAVAILABLE that many times. */
const calls: FileStateChange[] = [];
const failing = new Map<string, number>();
const fileStates: FileStates = {
  async set(c) {
    const left = failing.get(c.eventId) ?? 0;
    if (left > 0) {
      failing.set(c.eventId, left - 1);
      throw Object.assign(new Error("file service unavailable"), { code: Code.UNAVAILABLE });
    }
    calls.push(c);
    return "applied";
  },
  close() {},
};

interface Upload {
  eventId: string;
  fileId: string;
  objectKey: string;
}

/** Stores `stored` as a new object and publishes file_uploaded (id `eventId`) declaring `declared`. */
async function upload(
  stored: Buffer | undefined,
  declared: Buffer = stored ?? Buffer.alloc(0),
  eventId = randomUUID(),
): Promise<Upload> {
  const objectKey = newObjectKey();
  if (stored) await blobs.put(objectKey, Readable.from([stored]));
  const fileId = randomUUID();
  const meta = {
    eventId,
    occurTime: new Date(),
    actor: "user:x",
    requestId: "r1",
    traceparent: "",
    resource: `file:${fileId}`,
  };
  const payload = eventsv1.FileUploaded.encode(
    eventsv1.FileUploaded.fromPartial({
      meta,
      fileId,
      versionId: randomUUID(),
      objectKey,
      name: "upload.bin",
      sizeBytes: String(declared.length),
      sha256: createHash("sha256").update(declared).digest("hex"),
    }),
  ).finish();
  const h = headers();
  h.set(EVENT_TYPE_HEADER, "filemesh.events.v1.FileUploaded");
  await js.publish(runSubject(pm.mesh.env.RUN_PREFIX!, "filemesh.files.file_uploaded"), payload, {
    msgID: eventId,
    headers: h,
  });
  return { eventId, fileId, objectKey };
}

const finalOf = (u: Upload) =>
  eventually(`the state of ${u.fileId}`, async () => calls.find((c) => c.eventId === u.eventId));

const png = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .png()
    .toBuffer();

beforeAll(async () => {
  await blobs.init();
  pm = await startProcessorMesh({ services: ["auth"] });
  const config = loadProcessorConfig({
    ...pm.mesh.env,
    CONSUMER_PREFIX: "pl",
    MAX_DELIVER: "3",
    RETRY_BACKOFF: "50ms",
    BLOB_DRIVER: "fs",
    BLOB_DIR: blobDir,
    LOG_LEVEL: "silent",
  });
  proc = await startProcessor(config, createLogger({ service: "processor", level: "silent" }), {
    fileStates,
  });
  await proc.workers.ready;
  nc = await connect({ servers: pm.nats.url });
  js = jetstream(nc);
});

afterAll(async () => {
  await nc?.close();
  await proc?.runtime.shutdown("test end");
  await pm?.stop();
  rmSync(blobDir, { recursive: true, force: true });
});

describe("post-upload pipeline", () => {
  it("marks an image READY with its sniffed type and a thumbnail", async () => {
    const u = await upload(await png(1200, 800));
    expect(await finalOf(u)).toMatchObject({
      state: "READY",
      reason: "",
      contentType: "image/png",
      hasThumbnail: true,
    });
    const chunks: Buffer[] = [];
    for await (const c of await blobs.get(thumbnailKey(u.objectKey))) chunks.push(c as Buffer);
    const meta = await sharp(Buffer.concat(chunks)).metadata();
    expect(meta).toMatchObject({ format: "webp", width: 256, height: 171 });
  });

  it("decides the type from the bytes, whatever the name says", async () => {
    const text = await finalOf(await upload(Buffer.from("plain words, ünïcode too\n")));
    expect(text).toMatchObject({
      state: "READY",
      contentType: "text/plain; charset=utf-8",
      hasThumbnail: false,
    });
    const pdf = await finalOf(await upload(Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "latin1")));
    expect(pdf).toMatchObject({ state: "READY", contentType: "application/pdf" });
    const empty = await finalOf(await upload(Buffer.alloc(0)));
    expect(empty).toMatchObject({ state: "READY", contentType: "application/octet-stream" });
  });

  it("rejects corrupted, truncated and undecodable content with a reason", async () => {
    const good = Buffer.from("the committed content");
    const corrupted = await upload(Buffer.from("the committed c0ntent"), good);
    const truncated = await upload(good.subarray(0, 5), good);
    const fakeImage = await upload(await fakePng());
    expect(await finalOf(corrupted)).toMatchObject({
      state: "REJECTED",
      reason: expect.stringMatching(/^CHECKSUM_MISMATCH: /),
    });
    expect(await finalOf(truncated)).toMatchObject({
      state: "REJECTED",
      reason: expect.stringMatching(/^SIZE_MISMATCH: /),
    });
    expect(await finalOf(fakeImage)).toMatchObject({
      state: "REJECTED",
      reason: expect.stringMatching(/^IMAGE_UNREADABLE: /),
    });
  });

  it("retries a missing object (an outage or a wrong store), then shows PROCESSING_FAILED", async () => {
    const missing = await upload(undefined, Buffer.from("never stored"));
    const marked = await eventually("the PROCESSING_FAILED mark", async () =>
      calls.find((c) => c.fileId === missing.fileId),
    );
    expect(marked).toMatchObject({
      state: "REJECTED",
      reason: expect.stringMatching(/^PROCESSING_FAILED: /),
    });
    const letter = (await proc.workers.deadLetters()!.list()).find((l) => l.eventId === missing.eventId);
    expect(letter?.error).toContain("is not in the blob store");
  });

  it("retries a transient failure and records the result once", async () => {
    const eventId = randomUUID();
    failing.set(eventId, 2);
    const u = await upload(Buffer.from("retry me"), undefined, eventId);
    expect(await finalOf(u)).toMatchObject({ state: "READY" });
    const row = await eventually("the result recorded", async () => {
      const { rows } = await pm.pool.query("SELECT * FROM jobs.upload_results WHERE event_id = $1", [
        u.eventId,
      ]);
      return rows[0];
    });
    expect(row).toMatchObject({ state: "READY", deliveries: 3 });
    expect(calls.filter((c) => c.eventId === u.eventId)).toHaveLength(1);
  });

  it("dead-letters after MAX_DELIVER failures, shows the failure, and completes on redrive", async () => {
    const eventId = randomUUID();
    failing.set(eventId, 1000);
    const u = await upload(Buffer.from("unlucky"), undefined, eventId);
    const rejected = await eventually("the PROCESSING_FAILED mark", async () =>
      calls.find((c) => c.fileId === u.fileId && c.state === "REJECTED"),
    );
    expect(rejected.reason).toMatch(/^PROCESSING_FAILED: /);
    expect(rejected.eventId).not.toBe(eventId);
    const letters = await proc.workers.deadLetters()!.list();
    expect(letters.find((l) => l.eventId === eventId)).toMatchObject({ worker: "pl-uploads", deliveries: 3 });

    failing.delete(eventId);
    const client = new processorv1.ProcessorServiceClient(
      `127.0.0.1:${proc.runtime.port}`,
      credentials.createInsecure(),
    );
    try {
      const res = await call(
        client.redriveDeadLetters.bind(client),
        { eventIds: [eventId] },
        pm.admin.headers,
      );
      expect(res.redriven).toBe(1);
    } finally {
      client.close();
    }
    expect(await finalOf(u)).toMatchObject({ state: "READY", eventId });
  });
});
