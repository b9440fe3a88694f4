// The caller's sessions (GET /v1/auth/sessions): each device, the current one marked; sign out
// one, or every other one (DELETE /v1/auth/sessions/{id} for each). A revoked session's next
// call is refused and its console returns to the sign-in form.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { when } from "./format.ts";

/** "Chrome 131 on Linux" from a user agent, or the raw text when it is not recognised. */
function device(ua = ""): string {
  const browser = /(Edg|Firefox|Chrome|Safari)\/(\d+)/.exec(ua);
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua);
  if (!browser) return ua || "unknown client";
  const name = browser[1] === "Edg" ? "Edge" : browser[1];
  return `${name} ${browser[2]}${os ? ` on ${os[1]}` : ""}`;
}

export function Sessions(props: { onError: (e: unknown) => void }) {
  const [sessions, setSessions] = useState<api.Session[]>([]);
  const [note, setNote] = useState("");
  const load = () => api.listSessions().then((r) => setSessions(r.sessions ?? []), props.onError);
  useEffect(() => {
    load();
  }, []);

  const others = sessions.filter((s) => !s.current);
  const signOutOthers = async () => {
    try {
      await Promise.all(others.map((s) => api.revokeSession(s.id)));
      setNote(`Signed out ${others.length} other session${others.length === 1 ? "" : "s"}.`);
      await load();
    } catch (e) {
      props.onError(e);
    }
  };

  return (
    <section aria-label="Sessions" class="page">
      <h2>Sessions</h2>
      <p class="note">Every device or browser signed in to your account.</p>
      <div class="toolbar">
        <button type="button" class="primary" disabled={others.length === 0} onClick={signOutOthers}>
          Sign out other sessions
        </button>
        <span role="status" class="note">
          {note}
        </span>
      </div>
      <ul class="cards">
        {sessions.map((s) => (
          <li key={s.id} class="session" data-current={s.current ? "true" : "false"}>
            <strong>{device(s.userAgent)}</strong>
            {s.current && <span class="badge">this session</span>}
            <span class="note">
              {s.clientAddress} · signed in {when(s.createTime)} · last used {when(s.lastUseTime)}
            </span>
            {!s.current && (
              <button type="button" onClick={() => api.revokeSession(s.id).then(load, props.onError)}>
                Sign out
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
