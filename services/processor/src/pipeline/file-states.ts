// The pipeline's one call out: FileService.SetFileState (internal, callers "processor"), with
// the service identity, a deadline, and the event's request id and traceparent forwarded.
// NOT_FOUND (the file is gone) and FAILED_PRECONDITION (the version is no longer the one
// waiting, or its state moved on) are final answers, not failures.
import { filev1 } from "@filemesh/contracts";
import { Code, createPeer, peerOptions, serviceIdentity } from "@filemesh/kit";
import { Metadata } from "@grpc/grpc-js";
import type { ProcessorConfig } from "../config.js";
import { PoisonError } from "../events/workers.js";

export interface FileStateChange {
  fileId: string;
  versionId: string;
  state: "READY" | "REJECTED";
  reason: string;
  contentType: string;
  hasThumbnail: boolean;
  /** The event that caused it: the file service's idempotency key. */
  eventId: string;
  requestId?: string;
  traceparent?: string;
}

/** applied: the file service took it (or had taken it for this event id); gone / stale: see above. */
export type FileStateAnswer = "applied" | "gone" | "stale";

export interface FileStates {
  set(change: FileStateChange): Promise<FileStateAnswer>;
  close(): void;
}

export function fileStatesClient(config: ProcessorConfig): FileStates {
  const client = createPeer(filev1.FileServiceClient, peerOptions(config, config.fileAddrs));
  const identity = serviceIdentity("processor", config);
  return {
    async set(c) {
      const req = filev1.SetFileStateRequest.fromPartial({
        fileId: c.fileId,
        versionId: c.versionId,
        state: c.state === "READY" ? filev1.FileState.READY : filev1.FileState.REJECTED,
        stateReason: c.reason,
        contentType: c.contentType,
        hasThumbnail: c.hasThumbnail,
        eventId: c.eventId,
      });
      const ctx = {
        requestId: c.requestId || c.eventId,
        metadata: new Metadata(),
        ...(c.traceparent ? { traceparent: c.traceparent } : {}),
      };
      try {
        await client.setFileState(req, {
          ctx,
          timeoutMs: config.clientTimeoutMs,
          metadata: identity,
        });
        return "applied";
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === Code.NOT_FOUND) return "gone";
        if (code === Code.FAILED_PRECONDITION) return "stale";
        if (code === Code.INVALID_ARGUMENT) {
          throw new PoisonError(`SetFileState refused the change: ${(err as Error).message}`);
        }
        throw err;
      }
    },
    close: () => client.close(),
  };
}
