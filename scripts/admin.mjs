// Operator tool for the admin role (services/auth/README.md, "Admins"):
//   npm run admin -- grant <email | user id>    make the account an admin
//   npm run admin -- revoke <email | user id>   take it away and end the account's sessions
//   npm run admin -- list                       the current admins
// Admin rights come only from here: the tool needs the auth schema's database (DATABASE_URL) and,
// for revoke, the session store (REDIS_URL) — access an outsider does not have. Nothing a client
// can claim (an unverified e-mail address, a header) makes anyone an admin.
//
// A grant takes effect at the account's next login or refresh (its access tokens carry the role
// as the `adm` claim). A revoke also ends every session of the account, so tokens that still
// carry the claim stop working everywhere within the session-check bound (≤ 1 s); a second pass a
// moment later ends a session created by a login that had read the row just before the change.
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";

const USAGE = `usage: npm run admin -- grant <email | user id>
       npm run admin -- revoke <email | user id>
       npm run admin -- list
environment: DATABASE_URL (auth schema), REDIS_URL and REDIS_PREFIX or RUN_PREFIX (sessions; revoke only)`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/filemesh";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** A refusal with the exit code the CLI uses (64 = usage, 1 = nothing to act on / store error). */
export class AdminError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** An e-mail (normalised like the auth service does) or a user id → the WHERE clause's column. */
function target(who) {
  const raw = String(who ?? "")
    .normalize("NFC")
    .trim();
  if (UUID.test(raw)) return { column: "id", value: raw.toLowerCase(), shown: raw };
  if (EMAIL.test(raw) && raw.length <= 254) return { column: "email", value: raw.toLowerCase(), shown: raw };
  throw new AdminError(`"${raw}" is neither an e-mail address nor a user id\n${USAGE}`, 64);
}

async function withPool(databaseUrl, fn) {
  const pool = new pg.Pool({ connectionString: databaseUrl ?? DEFAULT_DATABASE_URL, max: 1 });
  pool.on("error", () => undefined);
  try {
    return await fn(pool);
  } catch (err) {
    if (err instanceof AdminError) throw err;
    if (err.code === "42703" || err.code === "42P01") {
      throw new AdminError(
        "the auth schema has no admin column yet: start the auth service once (it applies its migrations), then retry",
      );
    }
    throw new AdminError(`database: ${err.message}`);
  } finally {
    await pool.end();
  }
}

// Ends every session of the user like services/auth/src/store/sessions.ts (endUserSessions):
// the session hash, its live refresh token and the index entry. One script, so a refresh
// running at the same moment either finishes before (and its new token dies here) or finds
// the session gone.
// Keys the script names itself carry the run's key prefix (ARGV[2], RUN_PREFIX + ":").
const END_USER_SESSIONS = `
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
for _, sid in ipairs(ids) do
  local skey = ARGV[2] .. 'fm:sess:' .. sid
  local uid = redis.call('HGET', skey, 'uid')
  if uid == ARGV[1] then
    local rth = redis.call('HGET', skey, 'rth')
    redis.call('DEL', skey)
    if rth then redis.call('DEL', ARGV[2] .. 'fm:rt:' .. rth) end
    n = n + 1
  end
  redis.call('ZREM', KEYS[1], sid)
end
return n`;

async function endSessions(redisUrl, runPrefix, userId, settleMs) {
  const keyPrefix = runPrefix ? `${runPrefix}:` : "";
  const redis = new Redis(redisUrl ?? DEFAULT_REDIS_URL, {
    keyPrefix,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    let ended = Number(await redis.eval(END_USER_SESSIONS, 1, `fm:usess:${userId}`, userId, keyPrefix));
    if (settleMs > 0) {
      await new Promise((r) => setTimeout(r, settleMs));
      ended += Number(await redis.eval(END_USER_SESSIONS, 1, `fm:usess:${userId}`, userId, keyPrefix));
    }
    return ended;
  } catch (err) {
    throw new AdminError(
      `the admin flag is off, but the sessions could not be ended (${err.message}); ` +
        "run the same revoke again once Redis answers",
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Sets or clears the admin flag of one account (by e-mail or id). Revoking also ends the
 * account's sessions. Throws AdminError (nothing changed) when there is no such account.
 */
export async function setAdmin(opts, who, admin) {
  const t = target(who);
  const row = await withPool(opts.databaseUrl, async (pool) => {
    const { rows } = await pool.query(
      `UPDATE auth.accounts SET admin = $2, update_time = CASE WHEN admin = $2 THEN update_time ELSE now() END
       WHERE ${t.column} = $1
       RETURNING id, email, create_time AS "createTime", disable_time AS "disableTime"`,
      [t.value, admin],
    );
    return rows[0];
  });
  if (!row) {
    throw new AdminError(
      `no account with ${t.column === "id" ? "id" : "e-mail"} ${t.shown}; nothing changed`,
    );
  }
  const endedSessions = admin
    ? 0
    : await endSessions(opts.redisUrl, opts.runPrefix, row.id, opts.settleMs ?? 2_000);
  return {
    id: row.id,
    email: row.email,
    createTime: row.createTime,
    disabled: row.disableTime !== null,
    endedSessions,
  };
}

/** The admins, by e-mail. */
export async function listAdmins(opts) {
  return withPool(opts.databaseUrl, async (pool) => {
    const { rows } = await pool.query(
      `SELECT id, email, create_time AS "createTime" FROM auth.accounts WHERE admin ORDER BY email`,
    );
    return rows;
  });
}

/** The CLI: returns the exit code; writes results to `out`, refusals to `err`. */
export async function main(argv, env = process.env, out = console.log, err = console.error) {
  const opts = {
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    runPrefix: env.REDIS_PREFIX || env.RUN_PREFIX || undefined,
  };
  const [command, who, ...rest] = argv;
  try {
    if (command === "list" && who === undefined) {
      const admins = await listAdmins(opts);
      for (const a of admins) out(`${a.id}\t${a.email}\tregistered ${a.createTime.toISOString()}`);
      if (admins.length === 0) out("no admins");
      return 0;
    }
    if ((command !== "grant" && command !== "revoke") || who === undefined || rest.length > 0) {
      throw new AdminError(USAGE, 64);
    }
    const r = await setAdmin(opts, who, command === "grant");
    // The account's id and registration time let the operator confirm it is the account they
    // meant (an address can have been registered by someone else before them).
    const what = `${r.email} (id ${r.id}, registered ${r.createTime.toISOString()})`;
    if (command === "grant") {
      out(`granted admin to ${what}; it applies from the account's next login or token refresh`);
      if (r.disabled) out("note: this account is disabled and cannot log in until it is enabled");
    } else {
      out(`revoked admin from ${what}; ended ${r.endedSessions} session(s)`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof AdminError)) throw e;
    err(`admin: ${e.message}`);
    return e.exitCode;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv.slice(2));
}
