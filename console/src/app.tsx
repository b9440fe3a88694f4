// The console's shell: signed out → the login/register form; signed in → header (usage bar,
// sign out), the folder browser or the trash, and one error banner that shows every API error.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Browser } from "./browser.tsx";
import { errorText } from "./format.ts";
import { Login } from "./login.tsx";
import { Trash } from "./trash.tsx";
import { UsageBar } from "./usage.tsx";

export function App() {
  const [me, setMe] = useState<api.Me | null>(null);
  const [view, setView] = useState<"files" | "trash">("files");
  const [error, setError] = useState("");
  const [usageTick, setUsageTick] = useState(0);

  useEffect(() => {
    api.setSignedOutHandler(() => {
      setMe(null);
      setError("Your session ended: sign in again.");
    });
  }, []);

  const report = (e: unknown) => setError(errorText(e));
  const changed = () => setUsageTick((n) => n + 1);

  if (!me) {
    return (
      <main class="auth">
        <h1>filemesh</h1>
        <ErrorBanner text={error} clear={() => setError("")} />
        <Login
          onError={report}
          onSignedIn={(m) => {
            setError("");
            setView("files");
            setMe(m);
          }}
        />
      </main>
    );
  }

  const signOut = async () => {
    try {
      await api.logout();
    } catch (e) {
      report(e);
    }
    setMe(null);
  };

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">filemesh</span>
        <nav aria-label="Views">
          <button type="button" aria-pressed={view === "files"} onClick={() => setView("files")}>
            Files
          </button>
          <button type="button" aria-pressed={view === "trash"} onClick={() => setView("trash")}>
            Trash
          </button>
        </nav>
        <UsageBar tick={usageTick} onError={report} />
        <span class="who" title={me.email}>
          {me.displayName || me.email}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <ErrorBanner text={error} clear={() => setError("")} />
      <main>
        {view === "files" ? (
          <Browser home={me.homeFolderId ?? ""} onError={report} onChanged={changed} />
        ) : (
          <Trash onError={report} onChanged={changed} />
        )}
      </main>
    </div>
  );
}

function ErrorBanner(props: { text: string; clear: () => void }) {
  if (!props.text) return null;
  return (
    <div class="error" role="alert">
      <span>{props.text}</span>
      <button type="button" aria-label="Dismiss error" onClick={props.clear}>
        ×
      </button>
    </div>
  );
}
