// The share dialog of a file or folder: grants to a user (found by exact email) or one of the
// caller's groups with a role and an optional expiry, listed and removable; share links with an
// optional password, expiry and download limit. A link's token is shown once, when it is made
// (the API never returns it again): its address can be copied to the clipboard then. A link with
// a password gets "#password" on its address so the link page asks for it before its first call.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Dialog } from "./dialog.tsx";
import { when } from "./format.ts";

/** The end of the chosen day in local time, as an RFC 3339 timestamp; "" for none. */
const endOf = (day: string) => (day ? new Date(`${day}T23:59:59`).toISOString() : "");

export const linkAddress = (token: string, hasPassword: boolean) =>
  `${location.origin}/s/${encodeURIComponent(token)}${hasPassword ? "#password" : ""}`;

export function ShareDialog(props: {
  file: api.FileItem;
  onClose: () => void;
  onError: (e: unknown) => void;
}) {
  const f = props.file;
  const [grants, setGrants] = useState<api.Grant[]>([]);
  const [links, setLinks] = useState<api.ShareLink[]>([]);
  const [groups, setGroups] = useState<api.Group[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [kind, setKind] = useState<"user" | "group">("user");
  const [email, setEmail] = useState("");
  const [groupId, setGroupId] = useState("");
  const [role, setRole] = useState("viewer");
  const [expiry, setExpiry] = useState("");
  const [password, setPassword] = useState("");
  const [linkExpiry, setLinkExpiry] = useState("");
  const [limit, setLimit] = useState("");
  const [made, setMade] = useState("");
  const [copied, setCopied] = useState("");

  const load = async () => {
    try {
      const [g, l] = await Promise.all([api.listGrants(f.id), api.listLinks(f.id)]);
      const list = (g.grants ?? []).filter((x) => !x.subject?.startsWith("link:"));
      setGrants(list);
      setLinks(l.links ?? []);
      const users = list.map((x) => x.subject ?? "").filter((s) => s.startsWith("user:"));
      const found: Record<string, string> = {};
      await Promise.all(
        users.map(async (s) => {
          const u = await api.getUser(s.slice(5)).catch(() => undefined);
          if (u) found[s] = u.displayName || u.email || s;
        }),
      );
      setNames((old) => ({ ...old, ...found }));
    } catch (e) {
      props.onError(e);
    }
  };

  useEffect(() => {
    load();
    api.listGroups().then((r) => {
      const gs = r.groups ?? [];
      setGroups(gs);
      setGroupId((cur) => cur || gs[0]?.id || "");
      setNames((old) => ({
        ...old,
        ...Object.fromEntries(gs.map((g) => [`group:${g.id}`, `${g.name} (group)`])),
      }));
    }, props.onError);
  }, [f.id]);

  const grant = async (e: Event) => {
    e.preventDefault();
    try {
      let subject: string;
      if (kind === "user") {
        const u = await api.lookupUser(email.trim());
        subject = `user:${u.id}`;
        setNames((old) => ({ ...old, [subject]: u.displayName || u.email || subject }));
      } else subject = `group:${groupId}`;
      await api.createGrant(f.id, subject, role, endOf(expiry));
      setEmail("");
      await load();
    } catch (err) {
      props.onError(err);
    }
  };

  const makeLink = async (e: Event) => {
    e.preventDefault();
    try {
      const link = await api.createLink(f.id, {
        role: "viewer",
        password,
        expireTime: endOf(linkExpiry),
        maxDownloads: Number(limit) || 0,
      });
      setMade(linkAddress(link.token ?? "", !!password));
      setCopied("");
      setPassword("");
      await load();
    } catch (err) {
      props.onError(err);
    }
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(made);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("The clipboard is not available here: select the address and copy it.");
    }
  };

  return (
    <Dialog title={`Share “${f.name}”`} onClose={props.onClose} wide>
      <section aria-label="People and groups">
        <h3>People and groups</h3>
        <form class="share-form" onSubmit={grant}>
          <label>
            Share with
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as "user" | "group")}>
              <option value="user">a person (email)</option>
              <option value="group">a group</option>
            </select>
          </label>
          {kind === "user" ? (
            <label>
              Email
              <input
                type="email"
                required
                value={email}
                aria-label="Email of the person"
                onInput={(e) => setEmail(e.currentTarget.value)}
              />
            </label>
          ) : (
            <label>
              Group
              <select value={groupId} aria-label="Group" onChange={(e) => setGroupId(e.currentTarget.value)}>
                {groups.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            Role
            <select value={role} aria-label="Role" onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="viewer">viewer</option>
              <option value="editor">editor</option>
            </select>
          </label>
          <label>
            Until (optional)
            <input
              type="date"
              value={expiry}
              aria-label="Grant expiry"
              onInput={(e) => setExpiry(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary" disabled={kind === "group" && !groupId}>
            Share
          </button>
        </form>
        <ul class="grants">
          {grants.map((g) => (
            <li key={g.id} data-subject={g.subject}>
              <span class="grant-who">{names[g.subject ?? ""] ?? g.subject}</span>
              <span class="badge">{g.role}</span>
              {g.expireTime && <span class="note">until {when(g.expireTime)}</span>}
              {g.role !== "owner" && (
                <button
                  type="button"
                  aria-label={`Remove access of ${names[g.subject ?? ""] ?? g.subject}`}
                  onClick={() => api.deleteGrant(f.id, g.id).then(load, props.onError)}
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      </section>
      <section aria-label="Share links">
        <h3>Links</h3>
        <form class="share-form" onSubmit={makeLink}>
          <label>
            Password (optional)
            <input
              type="password"
              autocomplete="new-password"
              value={password}
              aria-label="Link password"
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <label>
            Expires (optional)
            <input
              type="date"
              value={linkExpiry}
              aria-label="Link expiry"
              onInput={(e) => setLinkExpiry(e.currentTarget.value)}
            />
          </label>
          <label>
            Download limit
            <input
              type="number"
              min="0"
              placeholder="none"
              value={limit}
              aria-label="Download limit"
              onInput={(e) => setLimit(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary">
            Create link
          </button>
        </form>
        {made && (
          <div class="made-link">
            <input
              readOnly
              value={made}
              aria-label="New link address"
              onFocus={(e) => e.currentTarget.select()}
            />
            <button type="button" onClick={copy}>
              Copy link
            </button>
            <span class="note" role="status">
              {copied || "Shown once: copy it now."}
            </span>
          </div>
        )}
        <ul class="grants">
          {links.map((l) => (
            <li key={l.id} data-link={l.id}>
              <span class="grant-who">Link made {when(l.createTime)}</span>
              {l.hasPassword && <span class="badge">password</span>}
              <span class="note">
                {l.downloads ?? 0}
                {l.maxDownloads ? ` of ${l.maxDownloads}` : ""} downloads
                {l.expireTime ? `, until ${when(l.expireTime)}` : ""}
              </span>
              <button
                type="button"
                aria-label="Delete link"
                onClick={() => api.deleteLink(f.id, l.id).then(load, props.onError)}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      </section>
    </Dialog>
  );
}
