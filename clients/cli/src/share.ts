// share (a grant to a user by email, or to a group) and link (a share link).
import type { filev1, permissionv1, userv1 } from "@filemesh/contracts";
import type { Context } from "./context.js";
import { usage } from "./errors.js";

const ROLES = ["viewer", "editor", "owner"];

export async function share(c: Context, path: string, who: string, role: string) {
  if (!path || !who || !role) throw usage("share needs <path> <user-email|group:id> <role>");
  if (!ROLES.includes(role)) throw usage(`role must be one of ${ROLES.join(", ")}`);
  const s = c.session();
  const f = await c.resolver().resolve(path);
  let subject = who;
  if (!/^(user|group):/.test(who)) {
    const res = await s.call<userv1.LookupUserResponse>((md, o, cb) =>
      s.clients.users.lookupUser({ email: who }, md, o, cb),
    );
    subject = `user:${res.user!.id}`;
  }
  const res = await s.call<permissionv1.CreateGrantResponse>((md, o, cb) =>
    s.clients.perms.createGrant(
      {
        fileId: f.id,
        grant: { id: "", resource: "", subject, role, creator: "", revision: "0" },
        requestId: "",
      },
      md,
      o,
      cb,
    ),
  );
  const g = res.grant!;
  return {
    text: `shared ${path} with ${who} as ${role} (file id ${f.id}; they can use id:${f.id})`,
    json: { fileId: f.id, grantId: g.id, subject: g.subject, role: g.role, revision: g.revision },
  };
}

/** "7d", "12h", "30m", "45s" from now, or an ISO date. */
export function parseExpiry(v: string): Date {
  const m = /^(\d+)([smhd])$/.exec(v);
  if (m) return new Date(Date.now() + Number(m[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[m[2] as "s"]);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw usage(`--expires ${v}: use 7d, 12h, 30m or an ISO date`);
  return d;
}

export async function link(
  c: Context,
  path: string,
  opts: { password?: string; expires?: string; maxDownloads?: string; role?: string },
) {
  if (!path) throw usage("link needs a path");
  const max = opts.maxDownloads ? Number(opts.maxDownloads) : 0;
  if (!Number.isInteger(max) || max < 0) throw usage("--max-downloads must be a whole number");
  const role = opts.role ?? "viewer";
  if (!["viewer", "editor"].includes(role)) throw usage("--role must be viewer or editor");
  const expireTime = opts.expires ? parseExpiry(opts.expires) : undefined;
  const s = c.session();
  const f = await c.resolver().resolve(path);
  const res = await s.call<filev1.CreateShareLinkResponse>((md, o, cb) =>
    s.clients.files.createShareLink(
      {
        fileId: f.id,
        link: {
          id: "",
          token: "",
          role,
          maxDownloads: max,
          downloads: 0,
          hasPassword: false,
          fileId: "",
          password: opts.password ?? "",
          ...(expireTime ? { expireTime } : {}),
        },
        requestId: "",
      },
      md,
      o,
      cb,
    ),
  );
  const l = res.link!;
  // The gateway serves REST on the same port as gRPC.
  const url = `${c.plaintext ? "http" : "https"}://${c.server}/v1/links/${l.token}/content`;
  return {
    text: `${url}${l.hasPassword ? "  (password protected: add ?password=…)" : ""}`,
    json: {
      id: l.id,
      token: l.token,
      url,
      role: l.role,
      hasPassword: l.hasPassword,
      maxDownloads: l.maxDownloads,
      expireTime: l.expireTime?.toISOString(),
    },
  };
}
