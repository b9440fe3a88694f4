// The post-upload worker on filemesh.files.file_uploaded: runs the pipeline over the stored
// version, hands READY or REJECTED (with the reason) to the file service, then records the
// event as finished. A crash anywhere before that record repeats the work on redelivery; the
// thumbnail key is deterministic and SetFileState is idempotent by event id, so repeating is
// harmless. Transient failures retry with backoff; at the last delivery the event is
// dead-lettered and the file is marked REJECTED (PROCESSING_FAILED) so its owner sees it.
import { createHash } from "node:crypto";
import { eventsv1 } from "@filemesh/contracts";
import type { ConsumedEvent, Logger } from "@filemesh/kit";
import type pg from "pg";
import { PoisonError, type Worker } from "../events/workers.js";
import type { ProcessorMetrics } from "../metrics.js";
import { recordUploadResult, uploadFinished } from "../store/upload-results.js";
import { checkObjectKey } from "./blob-access.js";
import type { FileStateChange, FileStates } from "./file-states.js";
import { reasonOf, runPipeline } from "./pipeline.js";
import type { Step, StepDeps, UploadJob } from "./step.js";

export const UPLOADED_SUBJECT = "filemesh.files.file_uploaded";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Decoded {
  job: UploadJob;
  meta: eventsv1.EventMeta | undefined;
}

/** The job of a file_uploaded event; PoisonError when the event cannot describe one. */
export function decodeUpload(event: Pick<ConsumedEvent, "payload">): Decoded {
  let e: eventsv1.FileUploaded;
  try {
    e = eventsv1.FileUploaded.decode(event.payload);
  } catch (err) {
    throw new PoisonError(`undecodable file_uploaded event: ${(err as Error).message}`);
  }
  const sha256 = e.sha256.toLowerCase();
  if (!UUID.test(e.fileId) || !UUID.test(e.versionId))
    throw new PoisonError("file or version id is not a UUID");
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new PoisonError("sha256 is not 64 hex digits");
  if (!/^\d{1,19}$/.test(e.sizeBytes)) throw new PoisonError("size_bytes is not a size");
  try {
    checkObjectKey(e.objectKey);
  } catch {
    throw new PoisonError("object_key is not a server-generated key");
  }
  return {
    job: {
      fileId: e.fileId,
      versionId: e.versionId,
      objectKey: e.objectKey,
      sizeBytes: BigInt(e.sizeBytes),
      sha256,
      name: e.name,
    },
    meta: e.meta,
  };
}

/** A second, stable idempotency key for the dead-letter rejection (distinct from the event's). */
function derivedEventId(eventId: string, purpose: string): string {
  const h = createHash("sha256").update(`${purpose}\n${eventId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function uploadWorker(o: {
  prefix: string;
  pool: pg.Pool;
  steps: readonly Step[];
  stepDeps: StepDeps;
  fileStates: FileStates;
  metrics: ProcessorMetrics;
  concurrency: number;
  log: Logger;
}): Worker {
  const log = o.log.child({ component: "uploads" });
  const change = (d: Decoded, event: ConsumedEvent) => ({
    fileId: d.job.fileId,
    versionId: d.job.versionId,
    requestId: d.meta?.requestId ?? "",
    ...(event.traceparent ? { traceparent: event.traceparent } : {}),
  });
  return {
    name: `${o.prefix}-uploads`,
    stream: "FILES",
    filterSubject: UPLOADED_SUBJECT,
    concurrency: o.concurrency,
    // Each loop holds few messages: handling one can take seconds (hashing, thumbnails).
    maxMessages: 2,
    alreadyApplied: (eventId) => uploadFinished(o.pool, eventId),

    async handle(event) {
      const d = decodeUpload(event);
      const outcome = await runPipeline(o.steps, d.job, o.stepDeps);
      const reason = outcome.state === "REJECTED" ? reasonOf(outcome.rejection) : "";
      const full: FileStateChange = {
        ...change(d, event),
        state: outcome.state,
        reason,
        contentType: outcome.contentType,
        hasThumbnail: outcome.hasThumbnail,
        eventId: event.id,
      };
      const answer = await o.fileStates.set(full);
      const state = answer === "applied" ? outcome.state : answer;
      await recordUploadResult(o.pool, {
        eventId: event.id,
        fileId: d.job.fileId,
        versionId: d.job.versionId,
        state,
        reason,
        contentType: outcome.contentType,
        hasThumbnail: outcome.hasThumbnail,
        deliveries: event.deliveryCount,
        commitTime: d.meta?.occurTime,
      });
      o.metrics.uploads.inc({ state });
      if (d.meta?.occurTime) {
        o.metrics.uploadSeconds.observe({ state }, (Date.now() - d.meta.occurTime.getTime()) / 1000);
      }
      log.info({ fileId: d.job.fileId, versionId: d.job.versionId, state, reason }, "upload processed");
    },

    async onDeadLetter(event, _reason) {
      let d: Decoded;
      try {
        d = decodeUpload(event);
      } catch {
        return; // nothing to mark: the event does not name a file
      }
      await o.fileStates.set({
        ...change(d, event),
        state: "REJECTED",
        reason: "PROCESSING_FAILED: the file could not be processed; an administrator can retry it",
        contentType: "",
        hasThumbnail: false,
        eventId: derivedEventId(event.id, "dead-letter"),
      });
    },
  };
}
