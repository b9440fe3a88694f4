import type { CallScope, Logger, PageTokens } from "@filemesh/kit";
import type { BlobStore } from "@filemesh/kit/blob";
import type pg from "pg";
import type { FileConfig } from "../config.js";
import type { Cdn } from "../data/cdn.js";
import type { Tickets } from "../data/ticket.js";
import type { Access } from "../peers/access.js";
import type { FileRow } from "../store/files.js";
import type { FileAndVersion } from "../store/versions.js";

export type FileSettings = Pick<
  FileConfig,
  | "maxRawUploadBytes"
  | "reservationLeaseMs"
  | "completionLeaseMs"
  | "maxUploadBytes"
  | "defaultQuotaBytes"
  | "presignExpiryMs"
  | "uploadExpiryMs"
  | "partBytes"
  | "watchStreamsPerUser"
  | "watchStreamsPerProcess"
  | "watchRecheckMs"
  | "watchMaxLifetimeMs"
  | "readyOnCommit"
  | "downloadChunkBytes"
  | "maxCopyItems"
  | "trustForwardedFor"
  | "trustedProxyHops"
  | "relayPartsPerUser"
  | "relayPartsPerProcess"
  | "uploadSessionsPerUser"
  | "linkPasswordFreeAttempts"
  | "linkPasswordBackoffBaseMs"
  | "linkPasswordBackoffMaxMs"
  | "linkPasswordLinkBackoffMaxMs"
  | "ticketExpiryMs"
>;

export interface FileDeps {
  pool: pg.Pool;
  /** Reads outside a transaction, those of one turn of the event loop as one statement. */
  reads: FileReads;
  blobs: BlobStore;
  access: Access;
  pageTokens: PageTokens;
  /** Transfer tickets of the data plane (data/ticket.ts). */
  tickets: Tickets;
  /** Key of share-link tokens derived from a create's request_id (store/links.ts linkToken). */
  linkTokenKey: Buffer;
  /** Signs download URLs for the CDN in front of the bucket (CDN_*); absent: presigned S3 GETs. */
  cdn?: Cdn | undefined;
  settings: FileSettings;
  log: Logger;
}

/** store/files.ts fileReader, folderAndChildReader; store/versions.ts fileAndVersionReader. */
export interface FileReads {
  file(scope: CallScope, id: string): Promise<FileRow | undefined>;
  folderAndChild(
    scope: CallScope,
    id: string,
    name: string,
  ): Promise<(FileRow & { name_taken: boolean }) | undefined>;
  fileAndVersion(scope: CallScope, fileId: string, versionId: string): Promise<FileAndVersion | undefined>;
}
