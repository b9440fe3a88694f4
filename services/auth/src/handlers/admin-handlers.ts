// Admin RPCs: ListUsers, DisableUser, EnableUser. The admin role is the account's `admin`
// column, set only by the operator (`npm run admin`, scripts/admin.mjs); login and refresh
// copy it into the access token's `adm` claim, and the kit's middleware checks that claim from
// the method policy.
import type { authv1 } from "@filemesh/contracts";
import { appendEvents, type Handlers, inTransaction, notFound, pageSize } from "@filemesh/kit";
import { authEvents } from "../events.js";
import { listAccounts, setDisabled } from "../store/accounts.js";
import { endUserSessions } from "../store/sessions.js";
import { toAccount } from "./account-view.js";
import type { AuthDeps } from "./deps.js";

type AuthHandlers = Handlers<typeof authv1.AuthServiceService>;

export function createAdminHandlers(deps: AuthDeps) {
  return {
    async listUsers(req, ctx) {
      const size = pageSize(req.pageSize, { default: 50 });
      const prefix = req.emailPrefix.trim().toLowerCase();
      // The middleware admitted an admin; the token is theirs and their prefix's only.
      const binding = { list: "ListUsers", caller: ctx.principal?.subject ?? "", filter: [prefix] };
      const rows = await listAccounts(deps.readPool, {
        afterEmail: deps.pageTokens.read(req.pageToken, binding)[0] ?? "",
        prefix,
        limit: size + 1,
      });
      const page = rows.slice(0, size);
      return {
        users: page.map((r) => toAccount(r)),
        nextPageToken:
          rows.length > size ? deps.pageTokens.issue(binding, [page[page.length - 1]!.email]) : "",
      };
    },

    async disableUser(req, ctx) {
      const reason = req.reason.trim().slice(0, 500);
      const row = await inTransaction(deps.pool, async (c) => {
        const r = await setDisabled(c, req.userId, true, reason);
        if (r) await appendEvents(c, "auth", [authEvents.accountDisabled(ctx, r.id, reason)]);
        return r;
      }).catch((err) => {
        if ((err as { code?: string }).code === "22P02") return undefined; // not a uuid
        throw err;
      });
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      const ended = await endUserSessions(deps.redis, row.id);
      await deps.emit(
        ended.map((sid) => authEvents.sessionRevoked(ctx, row.id, sid, "account_disabled")),
        ctx,
      );
      return { user: toAccount(row), endedSessions: ended.length };
    },

    async enableUser(req, ctx) {
      const row = await inTransaction(deps.pool, async (c) => {
        const r = await setDisabled(c, req.userId, false, "");
        if (r) await appendEvents(c, "auth", [authEvents.accountEnabled(ctx, r.id)]);
        return r;
      }).catch((err) => {
        if ((err as { code?: string }).code === "22P02") return undefined;
        throw err;
      });
      if (!row) throw notFound("ACCOUNT_NOT_FOUND", "no such account");
      return { user: toAccount(row) };
    },
  } satisfies Partial<AuthHandlers>;
}
