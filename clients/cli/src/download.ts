// `download`: one file into `<dest>.<version>.part`, renamed into place once its SHA-256
// matches. The bytes come over the data plane: a CreateDownloadTicket (pinned to the version,
// from the part file's size), then one plain HTTP GET of its URL — the gateway's
// /v1/data/{ticket}, or with the s3 driver a presigned URL straight to the store — with no gRPC
// message per chunk; a server without CreateDownloadTicket streams ReadFile as before. A rerun
// after an interruption continues from the size of the part file (offset = what is on disk) and
// pins the same version, so the bytes line up.
import { closeSync, createWriteStream, existsSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { status } from "@grpc/grpc-js";
import { CliError, EXIT, isServiceError } from "./errors.js";
import { sha256Of } from "./hash.js";
import type { File } from "./paths.js";
import type { Progress } from "./progress.js";
import type { Session } from "./session.js";

export interface Downloaded {
  path: string;
  local: string;
  sizeBytes: number;
  sha256: string;
  resumedFrom: number;
  /** How the bytes came: "data-plane" (a ticket and one HTTP GET) or "stream" (ReadFile). */
  via: "data-plane" | "stream";
}

export function localTarget(file: File, dest: string | undefined): string {
  if (!dest) return file.name;
  return existsSync(dest) && statSync(dest).isDirectory() ? join(dest, file.name) : dest;
}

export async function downloadOne(
  s: Session,
  file: File,
  remotePath: string,
  target: string,
  progress: Progress,
  signal: AbortSignal,
): Promise<Downloaded> {
  if (file.kind === filev1.FileKind.FOLDER) {
    throw new CliError(
      EXIT.USAGE,
      "NOT_A_FILE",
      `${remotePath} is a folder`,
      "download its files one by one",
    );
  }
  const size = Number(file.sizeBytes);
  const part = `${target}.${file.currentVersionId.slice(0, 8) || "v"}.part`;
  let offset = existsSync(part) ? statSync(part).size : 0;
  if (offset > size) {
    rmSync(part);
    offset = 0;
  }
  closeSync(openSync(part, "a")); // exists even when nothing is left to fetch (an empty file)
  const resumedFrom = offset;
  const bar = progress.bar(remotePath, size, offset);
  let via: Downloaded["via"] = "data-plane";
  if (offset < size) {
    const onBytes = (n: number) => bar.set(offset + n);
    const ticket = await ticketFor(s, file, offset);
    if (ticket) await fetchInto(s, ticket, part, onBytes, signal, remotePath);
    else {
      via = "stream";
      await streamInto(s, file, offset, part, onBytes, signal);
    }
  }
  bar.finish();
  const sha256 = await sha256Of(part);
  if (file.sha256 && sha256 !== file.sha256) {
    rmSync(part, { force: true });
    throw new CliError(
      EXIT.ERROR,
      "CHECKSUM_MISMATCH",
      `${remotePath}: downloaded bytes do not match the file's SHA-256`,
      "run the download again",
    );
  }
  renameSync(part, target);
  return { path: remotePath, local: target, sizeBytes: size, sha256, resumedFrom, via };
}

/** ReadFile from `offset` of the file's version, appended to `part` (a server without tickets). */
async function streamInto(
  s: Session,
  file: File,
  offset: number,
  part: string,
  onBytes: (n: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const md = await s.metadata();
  const call = s.clients.files.readFile(
    { fileId: file.id, offset: String(offset), length: "0", versionId: file.currentVersionId },
    md,
  );
  const cancel = () => call.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  const out = createWriteStream(part, { flags: "a" });
  let got = 0;
  try {
    for await (const msg of call as AsyncIterable<filev1.ReadFileResponse>) {
      if (!msg.data?.length) continue;
      if (!out.write(msg.data)) await new Promise<void>((r) => out.once("drain", () => r()));
      got += msg.data.length;
      onBytes(got);
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    await new Promise<void>((r) => out.end(() => r()));
  }
}

/** A download ticket for the rest of the version, or undefined from a server without tickets. */
async function ticketFor(s: Session, file: File, offset: number) {
  try {
    return await s.call<filev1.CreateDownloadTicketResponse>((md, o, cb) =>
      s.clients.files.createDownloadTicket(
        { fileId: file.id, offset: String(offset), length: "0", versionId: file.currentVersionId },
        md,
        o,
        cb,
      ),
    );
  } catch (err) {
    if (isServiceError(err) && err.code === status.UNIMPLEMENTED) return undefined;
    throw err;
  }
}

/**
 * Appends the ticket's window to `part` with one GET of its URL: a path goes to the server the
 * CLI is logged in to (the gateway serves REST and gRPC on one port); an absolute (presigned)
 * URL is fetched as it is, with a Range for the window. A body cut short is an error; what
 * arrived stays in the part file for the next run.
 */
export async function fetchInto(
  s: Session,
  t: filev1.CreateDownloadTicketResponse,
  part: string,
  onBytes: (n: number) => void,
  signal: AbortSignal,
  remotePath: string,
): Promise<void> {
  const url = new URL(t.url, `${s.creds.plaintext ? "http" : "https"}://${s.creds.server}`);
  const start = Number(t.offset);
  const length = Number(t.length);
  const headers: Record<string, string> = {};
  const ranged = t.ticket === "" && (start !== 0 || length !== Number(t.sizeBytes));
  if (ranged) headers.range = `bytes=${start}-${start + length - 1}`;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).get(url, { headers, signal }, resolve);
    req.on("error", (err) =>
      reject(
        signal.aborted
          ? err
          : new CliError(
              EXIT.ERROR,
              "DATA_ENDPOINT_UNAVAILABLE",
              `${remotePath}: the data plane cannot be reached (${(err as NodeJS.ErrnoException).code ?? err.message})`,
              "is the server up? run the same download again",
            ),
      ),
    );
  });
  if (res.statusCode !== (ranged ? 206 : 200)) throw await httpFailure(res, remotePath);
  const out = createWriteStream(part, { flags: "a" });
  let got = 0;
  let cut = false;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      got += chunk.length;
      onBytes(got);
    }
  } catch (err) {
    if (signal.aborted) throw err; // interrupted: the CLI says so
    cut = true; // the connection broke: reported below with what arrived
  } finally {
    await new Promise<void>((r) => out.end(() => r()));
  }
  if (cut || got !== length) {
    throw new CliError(
      EXIT.ERROR,
      "DOWNLOAD_CUT",
      `${remotePath}: the transfer ended after ${got} of ${length} bytes`,
      "run the same download again: it continues from what arrived",
    );
  }
}

/** A refused data-plane GET as a CLI error: the service's google.rpc.Status JSON, or the HTTP status. */
async function httpFailure(res: http.IncomingMessage, remotePath: string): Promise<CliError> {
  let body = "";
  for await (const chunk of res) if (body.length < 65_536) body += String(chunk);
  let reason = `HTTP_${res.statusCode}`;
  let message = `${remotePath}: the data plane answered HTTP ${res.statusCode}`;
  try {
    const st = JSON.parse(body) as { message?: string; details?: { reason?: string }[] };
    reason = st.details?.find((d) => d.reason)?.reason ?? reason;
    if (st.message) message = `${remotePath}: ${st.message}`;
  } catch {}
  const exit = res.statusCode === 404 ? EXIT.NOT_FOUND : res.statusCode === 401 ? EXIT.AUTH : EXIT.ERROR;
  return new CliError(exit, reason, message, exit === EXIT.ERROR ? "run the same download again" : "");
}
