// What a janitor pass asks of the file service, which owns the rows and the blobs involved
// (file-janitor-tasks.ts calls its internal RPCs). Without a file service address the tasks
// answer FAILED_PRECONDITION / JANITOR_UNAVAILABLE and scheduled passes are skipped.
import { failedPrecondition } from "@filemesh/kit";

export interface JanitorCounts {
  expiredUploads: number;
  purgedTrash: number;
  removedOrphanObjects: number;
  markedMissingRows: number;
  abortedOrphanUploads: number;
}

export interface JanitorTasks {
  /** Whether the tasks can run at all (false: scheduled passes are skipped). */
  readonly available: boolean;
  /** Expires upload sessions past their expiry: aborts multipart uploads, releases reserved quota. */
  expireUploads(now: Date): Promise<number>;
  /** Permanently deletes what was trashed before `cutoff` (rows, versions, tuples, quota, bytes). */
  purgeTrash(cutoff: Date): Promise<number>;
  /**
   * Objects without rows and multipart uploads without sessions older than `cutoff` removed;
   * rows without objects marked (served NOT_FOUND).
   */
  reconcileOrphans(
    cutoff: Date,
  ): Promise<{ removedObjects: number; abortedUploads: number; markedRows: number }>;
  /** Releases what the tasks hold (clients). */
  close?(): void;
}

export const unavailable = () =>
  failedPrecondition("JANITOR_UNAVAILABLE", "no file service is configured (FILE_ADDRS)");

export const unavailableTasks: JanitorTasks = {
  available: false,
  expireUploads: () => Promise.reject(unavailable()),
  purgeTrash: () => Promise.reject(unavailable()),
  reconcileOrphans: () => Promise.reject(unavailable()),
};
