// GetMe, UpdateMe, GetUser, LookupUser. A profile missing locally (the user_registered event
// not consumed yet) is created on the spot from the auth service's account.
import type { userv1 } from "@filemesh/contracts";
import { type CallContext, type Handlers, notFound, type Queryable } from "@filemesh/kit";
import { callerOf, type UserDeps } from "../domain/deps.js";
import { fieldsToUpdate, type Updatable } from "../domain/field-mask.js";
import { writeTx } from "../domain/tx.js";
import { avatarUrlOf, bioOf, displayNameOf, lookupEmailOf, uuidOf } from "../domain/validate.js";
import { lookedUpUser, ownUser, publicUser } from "../domain/views.js";
import { userEvents } from "../events/user-events.js";
import {
  findProfile,
  findProfileByEmail,
  insertProfile,
  type ProfileRow,
  setHomeFolder,
  updateProfile,
} from "../store/profiles.js";

type UserHandlers = Handlers<typeof userv1.UserServiceService>;

// One answer for "no such user", whatever the reason, so lookups cannot enumerate accounts.
const USER_NOT_FOUND = () => notFound("USER_NOT_FOUND", "no such user");

/**
 * The profile, created from the account when missing; undefined when there is no account.
 * `q` is the pool, or the caller's transaction (so a request never holds two connections).
 */
export async function loadProfile(
  deps: Pick<UserDeps, "accounts">,
  q: Queryable,
  userId: string,
  ctx: CallContext,
): Promise<ProfileRow | undefined> {
  const row = await findProfile(q, userId);
  if (row) return row;
  const account = await deps.accounts(userId, ctx);
  if (!account || account.id !== userId) return undefined;
  await insertProfile(q, account);
  const created = await findProfile(q, userId);
  if (created) return created;
  // The e-mail is held by another (stale) profile: answer from the account, store nothing.
  ctx.log.warn({ user_id: userId }, "profile e-mail conflict; serving the account without a profile");
  const now = account.createTime ?? new Date();
  return { ...account, avatarUrl: "", bio: "", homeFolderId: "", createTime: now, updateTime: now };
}

async function withHomeFolder(deps: UserDeps, row: ProfileRow, ctx: CallContext): Promise<ProfileRow> {
  if (row.homeFolderId) return row;
  const folderId = await deps.homeFolders(row.id, ctx);
  if (!folderId) return row;
  await setHomeFolder(deps.pool, row.id, folderId);
  return { ...row, homeFolderId: folderId };
}

export function createProfileHandlers(deps: UserDeps) {
  return {
    async getMe(_req, ctx) {
      const row = await loadProfile(deps, deps.pool, callerOf(ctx), ctx);
      if (!row) throw USER_NOT_FOUND();
      return { user: ownUser(await withHomeFolder(deps, row, ctx)) };
    },

    async updateMe(req, ctx) {
      const me = callerOf(ctx);
      const given = req.user ?? { displayName: "", avatarUrl: "", bio: "" };
      const fields = fieldsToUpdate(req.updateMask, {
        display_name: given.displayName,
        avatar_url: given.avatarUrl,
        bio: given.bio,
      });
      const set: Partial<Record<"displayName" | "avatarUrl" | "bio", string>> = {};
      const apply: Record<Updatable, () => void> = {
        display_name: () => {
          set.displayName = displayNameOf(given.displayName);
        },
        avatar_url: () => {
          set.avatarUrl = avatarUrlOf(given.avatarUrl);
        },
        bio: () => {
          set.bio = bioOf(given.bio);
        },
      };
      for (const f of fields) apply[f]();
      const current = await loadProfile(deps, deps.pool, me, ctx);
      if (!current) throw USER_NOT_FOUND();
      if (fields.length === 0) return { user: ownUser(current) };
      const row = await writeTx(deps.pool, async (tx) => {
        const updated = await updateProfile(tx, me, set);
        if (!updated) throw USER_NOT_FOUND();
        await userEvents(tx, ctx).profileUpdated(me, fields);
        return updated;
      });
      return { user: ownUser(row) };
    },

    async getUser(req, ctx) {
      const id = uuidOf(req.userId, "user_id");
      const row = await loadProfile(deps, deps.pool, id, ctx);
      if (!row) throw USER_NOT_FOUND();
      return { user: id === callerOf(ctx) ? ownUser(row) : publicUser(row) };
    },

    async lookupUser(req) {
      const row = await findProfileByEmail(deps.pool, lookupEmailOf(req.email));
      if (!row) throw USER_NOT_FOUND();
      return { user: lookedUpUser(row) };
    },
  } satisfies Partial<UserHandlers>;
}
