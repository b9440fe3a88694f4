import { randomUUID } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { auditRecord } from "../audit/audit-worker.js";
import { decodeUpload } from "../pipeline/upload-worker.js";
import { codecOf, decodeMeta, field1, payloadJson } from "./decode.js";
import { originalSubject } from "./topology.js";
import { PoisonError } from "./workers.js";

const meta = () => ({
  eventId: randomUUID(),
  occurTime: new Date("2026-01-02T03:04:05.678Z"),
  actor: "user:a",
  requestId: "r",
  traceparent: "",
  resource: "file:f",
});

const event = (payload: Uint8Array, type = "filemesh.events.v1.FileTrashed", id: string = randomUUID()) => ({
  id,
  subject: "filemesh.files.file_trashed",
  type,
  payload,
  streamSeq: 1,
  deliveryCount: 1,
});

describe("event decoding", () => {
  it("reads EventMeta from field 1 of any event, known type or not", () => {
    const m = meta();
    const payload = eventsv1.GroupMemberAdded.encode({
      meta: m,
      groupId: "g",
      member: "user:b",
      role: "member",
      revision: "7",
    }).finish();
    expect(decodeMeta(payload)).toEqual(m);
    expect(JSON.parse(payloadJson("filemesh.events.v1.GroupMemberAdded", payload)!)).toMatchObject({
      revision: "7",
      member: "user:b",
    });
    expect(payloadJson("filemesh.events.v9.Nope", payload)).toBeUndefined();
    expect(codecOf("filemesh.events.v1.EventMeta")).toBeUndefined();
    expect(codecOf("filemesh.events.v1.__proto__")).toBeUndefined();
    const r = auditRecord("USERS", event(payload, "filemesh.events.v1.FromTheFuture", m.eventId));
    expect(r).toMatchObject({
      actor: "user:a",
      resource: "file:f",
      payloadJson: undefined,
      occurTime: m.occurTime,
    });
  });

  it("turns any byte string into a record or a PoisonError, never another failure", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom("filemesh.events.v1.FileUploaded", "x"),
        (bytes, type) => {
          for (const f of [
            () => auditRecord("FILES", event(bytes, type)),
            () => decodeUpload({ payload: bytes }),
          ]) {
            try {
              f();
            } catch (err) {
              expect(err).toBeInstanceOf(PoisonError);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(() => field1(Uint8Array.from([0x0a, 0x05, 1]))).toThrow();
  });

  it("keeps NUL out of text and JSON columns (Postgres refuses it)", () => {
    const m = { ...meta(), actor: "user:\u0000x" };
    const payload = eventsv1.FileUpdated.encode({ meta: m, fileId: "f", fields: ["a\u0000b"] }).finish();
    const r = auditRecord("FILES", event(payload, "filemesh.events.v1.FileUpdated", m.eventId));
    expect(r.actor).toBe("user:\ufffdx");
    expect(r.payloadJson).not.toContain("\\u0000");
    expect(JSON.parse(r.payloadJson!).fields).toEqual(["a\ufffdb"]);
  });

  it("refuses ids that are not UUIDs and metas that contradict the message id", () => {
    const payload = eventsv1.FileTrashed.encode({ meta: meta(), fileId: "f" }).finish();
    expect(() => auditRecord("FILES", event(payload, undefined, "not-a-uuid"))).toThrow(PoisonError);
    expect(() => auditRecord("FILES", event(payload))).toThrow(/differs from the message id/);
  });

  it("restores the original subject of dead-lettered and redriven events", () => {
    expect(originalSubject("filemesh.redrive.p-uploads.filemesh.files.file_uploaded")).toEqual({
      worker: "p-uploads",
      subject: "filemesh.files.file_uploaded",
    });
    expect(originalSubject("filemesh.deadletter.p-audit-acl.filemesh.acl.grant_created").worker).toBe(
      "p-audit-acl",
    );
    expect(originalSubject("filemesh.files.file_uploaded")).toEqual({
      subject: "filemesh.files.file_uploaded",
    });
  });
});
