import type { PageTokens } from "@filemesh/kit";
import { callerUserId } from "@filemesh/kit";
import type pg from "pg";
import type { AccountLookup } from "../peers/accounts.js";
import type { FencedAclWriter } from "../peers/acl.js";
import type { HomeFolders } from "../peers/home-folders.js";

/** Everything the handlers use, passed in by app.ts (tests may pass fakes). */
export interface UserDeps {
  pool: pg.Pool;
  /** A small pool of its own for the membership intents (domain/tx.ts): written while a transaction holds a connection of `pool`. */
  intentPool: pg.Pool;
  accounts: AccountLookup;
  homeFolders: HomeFolders;
  acl: FencedAclWriter;
  pageTokens: PageTokens;
}

/** The authenticated end user or UNAUTHENTICATED (the kit's callerUserId). */
export const callerOf = callerUserId;
