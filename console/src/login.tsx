// Sign in, or register and then sign in. The form never clears the password on an error so
// a typo can be fixed; the API's message is shown by the shell's error banner.
import { useState } from "preact/hooks";
import * as api from "./api.ts";

export function Login(props: { onSignedIn: (me: api.Me) => void; onError: (e: unknown) => void }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (mode === "register") await api.register(email, password, name || email.split("@")[0] || "");
      await api.login(email, password);
      // A new account's home folder is made right after registration, by an event: wait for it
      // (up to 10 s) rather than list a folder that does not exist yet.
      let me = await api.me();
      for (let i = 0; !me.homeFolderId && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 500));
        me = await api.me();
      }
      props.onSignedIn(me);
    } catch (err) {
      props.onError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={submit} aria-label={mode === "login" ? "Sign in" : "Register"}>
      <h2>{mode === "login" ? "Sign in" : "Create an account"}</h2>
      <label>
        Email
        <input
          name="email"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
      </label>
      {mode === "register" && (
        <label>
          Display name
          <input name="displayName" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
      )}
      <label>
        Password
        <input
          name="password"
          type="password"
          autocomplete={mode === "login" ? "current-password" : "new-password"}
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        {mode === "login" ? "Sign in" : "Register"}
      </button>
      <button type="button" class="link" onClick={() => setMode(mode === "login" ? "register" : "login")}>
        {mode === "login" ? "No account? Register" : "Have an account? Sign in"}
      </button>
      <p class="note">You stay signed in only while this tab is open: a reload asks you to sign in again.</p>
    </form>
  );
}
