// The page a share link opens (/s/<token>), for anyone, signed in or not: the file's name and
// size and a Download button (GET /v1/links/{token}[/content], the password sent in the
// X-Link-Password header). An address ending in "#password" asks for the password first, so a
// protected link makes no refused call.
import { useEffect, useState } from "preact/hooks";
import * as api from "./api.ts";
import { bytes, errorText } from "./format.ts";

export function LinkPage(props: { token: string }) {
  const needsPassword = location.hash === "#password";
  const [password, setPassword] = useState("");
  const [asked, setAsked] = useState(needsPassword);
  const [file, setFile] = useState<api.FileItem | null>(null);
  const [error, setError] = useState("");

  const open = async (pw: string) => {
    setError("");
    try {
      const r = await api.openLink(props.token, pw);
      setFile(r.file ?? null);
      setAsked(false);
    } catch (e) {
      if (e instanceof api.ApiError && e.reason === "PASSWORD_REQUIRED") setAsked(true);
      setError(errorText(e));
    }
  };

  useEffect(() => {
    if (!needsPassword) open("");
  }, []);

  const download = async () => {
    try {
      api.save(await api.linkContent(props.token, password), file?.name ?? "download");
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <main class="auth">
      <h1>filemesh</h1>
      {error && (
        <div class="error" role="alert">
          <span>{error}</span>
        </div>
      )}
      {asked && (
        <form
          class="card"
          aria-label="Link password"
          onSubmit={(e) => {
            e.preventDefault();
            open(password);
          }}
        >
          <h2>A shared file</h2>
          <label>
            Password
            <input
              type="password"
              name="link-password"
              autocomplete="off"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary">
            Open
          </button>
        </form>
      )}
      {file && (
        <section class="card" aria-label="Shared file">
          <h2>{file.name}</h2>
          <p class="note">
            {file.kind === "FOLDER"
              ? "A folder"
              : `${bytes(file.sizeBytes)} · ${file.contentType || "unknown type"}`}
          </p>
          {file.kind !== "FOLDER" && (
            <button type="button" class="primary" onClick={download}>
              Download
            </button>
          )}
        </section>
      )}
    </main>
  );
}
