// `download`: one file through ReadFile (server streaming) into `<dest>.<version>.part`, renamed
// into place once its SHA-256 matches. A rerun after an interruption continues from the size
// of the part file (offset = what is on disk) and pins the same version, so the bytes line up.
import { closeSync, createWriteStream, existsSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { filev1 } from "@filemesh/contracts";
import { CliError, EXIT } from "./errors.js";
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
  if (offset < size) {
    const md = await s.metadata();
    const call = s.clients.files.readFile(
      { fileId: file.id, offset: String(offset), length: "0", versionId: file.currentVersionId },
      md,
    );
    const cancel = () => call.cancel();
    signal.addEventListener("abort", cancel, { once: true });
    const out = createWriteStream(part, { flags: "a" });
    try {
      for await (const msg of call as AsyncIterable<filev1.ReadFileResponse>) {
        if (!msg.data?.length) continue;
        if (!out.write(msg.data)) await new Promise<void>((r) => out.once("drain", () => r()));
        offset += msg.data.length;
        bar.set(offset);
      }
    } finally {
      signal.removeEventListener("abort", cancel);
      await new Promise<void>((r) => out.end(() => r()));
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
  return { path: remotePath, local: target, sizeBytes: size, sha256, resumedFrom };
}
