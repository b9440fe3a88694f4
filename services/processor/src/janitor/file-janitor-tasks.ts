// The janitor's tasks as the file service's internal RPCs (ExpireUploads, PurgeTrash,
// ReconcileObjects; callers "processor"), called with the service identity and a deadline per
// call, JANITOR_BATCH items at a time, again while the file service says there is more.
// A file service that does not answer is UNAVAILABLE / FILE_SERVICE_UNAVAILABLE; one that
// refuses the processor or has no such RPCs (an older version) is FAILED_PRECONDITION /
// JANITOR_UNAVAILABLE — either way the pass fails and is recorded, and the next one resumes.
import { randomUUID } from "node:crypto";
import { filev1 } from "@filemesh/contracts";
import {
  Code,
  createPeer,
  decodeServiceError,
  failedPrecondition,
  type OutgoingOptions,
  peerOptions,
  serviceIdentity,
  unavailable,
} from "@filemesh/kit";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { ProcessorConfig } from "../config.js";
import type { JanitorTasks } from "./janitor-tasks.js";

export function fileJanitorTasks(
  config: Pick<
    ProcessorConfig,
    | "fileAddrs"
    | "clientTimeoutMs"
    | "janitorBatchSize"
    | "internalAuth"
    | "internalToken"
    | "tlsClients"
    | "tlsCertFile"
    | "tlsKeyFile"
    | "tlsClientCaFile"
  >,
): JanitorTasks {
  const client = createPeer(filev1.FileServiceClient, peerOptions(config, config.fileAddrs));
  const metadata = serviceIdentity("processor", config);
  const maxItems = config.janitorBatchSize;

  async function call<Req, Res>(
    fn: (req: Req, o: OutgoingOptions) => Promise<Res>,
    req: Req,
    requestId: string,
  ): Promise<Res> {
    try {
      const ctx = { requestId, metadata: new Metadata() };
      return await fn(req, { ctx, timeoutMs: config.clientTimeoutMs, metadata });
    } catch (err) {
      const e = decodeServiceError(err as ServiceError);
      if (e.code === Code.UNAVAILABLE || e.code === Code.DEADLINE_EXCEEDED) {
        throw unavailable("FILE_SERVICE_UNAVAILABLE", `the file service did not answer: ${e.message}`, 5000);
      }
      if (
        e.code === Code.UNIMPLEMENTED ||
        e.code === Code.UNAUTHENTICATED ||
        e.code === Code.PERMISSION_DENIED
      ) {
        throw failedPrecondition(
          "JANITOR_UNAVAILABLE",
          `the file service refused the janitor's call (${e.reason || e.code}): ${e.message}`,
        );
      }
      throw err;
    }
  }

  /** Calls `step` while it reports more and makes progress; the sum of what it did. */
  async function loop(step: () => Promise<{ done: number; more: boolean }>): Promise<number> {
    let total = 0;
    for (;;) {
      const { done, more } = await step();
      total += done;
      // No progress with more left (another replica holds those rows): the next pass goes on.
      if (!more || done === 0) return total;
    }
  }

  return {
    available: true,
    async expireUploads(now) {
      const requestId = `janitor-${randomUUID()}`;
      return loop(async () => {
        const r = await call(client.expireUploads, { cutoffTime: now, maxItems }, requestId);
        return { done: r.expired, more: r.more };
      });
    },
    async purgeTrash(cutoff) {
      const requestId = `janitor-${randomUUID()}`;
      return loop(async () => {
        const r = await call(client.purgeTrash, { cutoffTime: cutoff, maxItems }, requestId);
        return { done: r.purged, more: r.more };
      });
    },
    async reconcileOrphans(cutoff) {
      const requestId = `janitor-${randomUUID()}`;
      const total = { removedObjects: 0, abortedUploads: 0, markedRows: 0 };
      let pageToken = "";
      do {
        const r = await call(client.reconcileObjects, { cutoffTime: cutoff, maxItems, pageToken }, requestId);
        total.removedObjects += r.removedObjects;
        total.abortedUploads += r.abortedUploads;
        total.markedRows += r.markedMissingRows;
        pageToken = r.nextPageToken;
      } while (pageToken);
      return total;
    },
    close: () => client.close(),
  };
}
