// Local development secrets and settings, created once under .tmp/dev (git-ignored):
// an RS256 signing key and a password pepper. Production passes its own through env/files.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

export function devSecrets(root) {
  const dir = join(root, ".tmp", "dev");
  const keys = join(dir, "keys");
  mkdirSync(keys, { recursive: true, mode: 0o700 });
  const keyFile = join(keys, "0001.pem");
  if (!existsSync(keyFile)) {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const pepperFile = join(dir, "pepper");
  if (!existsSync(pepperFile))
    writeFileSync(pepperFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
  const internalFile = join(dir, "internal-token");
  if (!existsSync(internalFile))
    writeFileSync(internalFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
  return {
    JWT_KEYS_DIR: keys,
    PASSWORD_PEPPER: readFileSync(pepperFile, "utf8").trim(),
    INTERNAL_TOKEN: readFileSync(internalFile, "utf8").trim(),
  };
}

/** Creates the database named in `url` if it does not exist (connecting to `postgres`). */
export async function ensureDatabase(url) {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`).catch((err) => {
        if (err.code !== "42P04") throw err; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}
