// The user's CLI state: $XDG_CONFIG_HOME/filemesh (or ~/.config/filemesh), the directory 0700
// and every file 0600. credentials.json holds the refresh token (never the password) and the
// current access token with its expiry; uploads.json maps local files to upload sessions so an
// interrupted upload resumes.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Credentials {
  server: string;
  plaintext: boolean;
  email: string;
  userId: string;
  refreshToken: string;
  accessToken: string;
  /** ms since the epoch. */
  accessExpires: number;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "filemesh");
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Written to a 0600 temp file and renamed, so a reader never sees half of it. */
export function writeJson(file: string, value: unknown): void {
  const dir = join(file, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export const credentialsFile = (dir: string) => join(dir, "credentials.json");
export const uploadsFile = (dir: string) => join(dir, "uploads.json");

/**
 * Runs fn holding an exclusive lock file in dir. Refresh tokens are single use and a replay
 * revokes the whole family, so two CLIs must never refresh with the same token at once.
 */
export async function withLock<T>(dir: string, name: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, `${name}.lock`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      closeSync(openSync(lock, "wx", 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock older than 60 s belongs to a CLI that died holding it.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true });
      if (Date.now() > deadline) throw new Error(`${lock} is held by another filemesh process`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
