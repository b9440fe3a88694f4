// The console's shell: /s/<token> is a share link's page (no account needed). Otherwise signed
// out → the login/register form; signed in → header (views, usage bar, sign out), the upload
// panel, one of the views (files, shared with me, trash, groups, sessions) and one error banner
// that shows every API error. The upload manager lives as long as the sign-in, so uploads go on
// while the views change; sessions cut off by a closed page are listed again after sign-in.
import { useEffect, useErrorBoundary, useMemo, useState } from "preact/hooks";
import * as api from "./api.ts";
import { Browser, type Crumb } from "./browser.tsx";
import { errorText } from "./format.ts";
import { Groups } from "./groups.tsx";
import { LinkPage } from "./link-page.tsx";
import { Login } from "./login.tsx";
import { Sessions } from "./sessions.tsx";
import { SharedWithMe } from "./shared.tsx";
import { Trash } from "./trash.tsx";
import { UploadManager } from "./upload-manager.ts";
import { Uploads } from "./uploads.tsx";
import { UsageBar } from "./usage.tsx";

type View = "files" | "shared" | "trash" | "groups" | "sessions";
const VIEWS: [View, string][] = [
  ["files", "Files"],
  ["shared", "Shared with me"],
  ["trash", "Trash"],
  ["groups", "Groups"],
  ["sessions", "Sessions"],
];

export function App() {
  // A rendering bug must not leave a blank page: show what broke and a way back.
  const [crash, reset] = useErrorBoundary();
  if (crash) {
    return (
      <main class="auth">
        <h1>filemesh</h1>
        <div class="error" role="alert">
          <span>The console hit an error: {errorText(crash)}</span>
        </div>
        <button type="button" class="primary" onClick={reset}>
          Try again
        </button>
      </main>
    );
  }
  const link = /^\/s\/([^/]+)$/.exec(location.pathname);
  if (link) return <LinkPage token={decodeURIComponent(link[1]!)} />;
  return <Console />;
}

function Console() {
  const [me, setMe] = useState<api.Me | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    api.setSignedOutHandler(() => {
      setMe(null);
      setError("Your session ended: sign in again.");
    });
  }, []);

  const report = (e: unknown) => setError(errorText(e));

  if (!me) {
    return (
      <main class="auth">
        <h1>filemesh</h1>
        <ErrorBanner text={error} clear={() => setError("")} />
        <Login
          onError={report}
          onSignedIn={(m) => {
            setError("");
            setMe(m);
          }}
        />
      </main>
    );
  }
  return <SignedIn key={me.id} me={me} error={error} setError={setError} onSignedOut={() => setMe(null)} />;
}

function SignedIn(props: {
  me: api.Me;
  error: string;
  setError: (s: string) => void;
  onSignedOut: () => void;
}) {
  const { me } = props;
  const [view, setView] = useState<View>("files");
  const [usageTick, setUsageTick] = useState(0);
  const [uploaded, setUploaded] = useState<{ file: api.FileItem; target: string } | null>(null);
  const home: Crumb[] = [{ id: me.homeFolderId ?? "", name: "Home" }];
  const [start, setStart] = useState<{ crumbs: Crumb[]; n: number }>({ crumbs: home, n: 0 });
  const report = (e: unknown) => props.setError(errorText(e));
  const changed = () => setUsageTick((n) => n + 1);
  const manager = useMemo(
    () =>
      new UploadManager(me.id, (file, target) => {
        setUploaded({ file, target });
        setUsageTick((n) => n + 1);
      }),
    [me.id],
  );
  useEffect(() => {
    manager.restore().catch(report);
  }, [manager]);

  const go = (v: View) => {
    if (v === "files") setStart((s) => ({ crumbs: home, n: s.n + 1 }));
    setView(v);
  };

  const signOut = async () => {
    try {
      await api.logout();
    } catch (e) {
      report(e);
    }
    props.onSignedOut();
  };

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">filemesh</span>
        <nav aria-label="Views">
          {VIEWS.map(([v, label]) => (
            <button key={v} type="button" aria-pressed={view === v} onClick={() => go(v)}>
              {label}
            </button>
          ))}
        </nav>
        <UsageBar tick={usageTick} onError={report} />
        <span class="who" title={me.email}>
          {me.displayName || me.email}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <ErrorBanner text={props.error} clear={() => props.setError("")} />
      <main>
        <Uploads manager={manager} />
        {view === "files" && (
          <Browser
            key={start.n}
            start={start.crumbs}
            home={me.homeFolderId ?? ""}
            manager={manager}
            uploaded={uploaded}
            onError={report}
            onChanged={changed}
          />
        )}
        {view === "shared" && (
          <SharedWithMe
            me={me}
            onError={report}
            onOpen={(f) => {
              setStart((s) => ({ crumbs: [{ id: f.id, name: f.name }], n: s.n + 1 }));
              setView("files");
            }}
          />
        )}
        {view === "trash" && <Trash onError={report} onChanged={changed} />}
        {view === "groups" && <Groups onError={report} />}
        {view === "sessions" && <Sessions onError={report} />}
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
