// login / logout / whoami. The password is read from --password-stdin, FILEMESH_PASSWORD or a
// hidden prompt, sent once to Login and never written anywhere; only the refresh token (and
// the short-lived access token) are stored, 0600.
import { rmSync } from "node:fs";
import { createInterface } from "node:readline";
import type { authv1, userv1 } from "@filemesh/contracts";
import { type Credentials, credentialsFile, readJson } from "./config.js";
import type { Context } from "./context.js";
import { usage } from "./errors.js";
import { anon, connect, openSession, saveLogin } from "./session.js";

async function prompt(question: string, hidden: boolean): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    // Echo the question, not what is typed.
    const r = rl as unknown as { _writeToOutput: (s: string) => void };
    r._writeToOutput = (s: string) => {
      if (s.startsWith(question)) process.stderr.write(question);
    };
  }
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    if (hidden) process.stderr.write("\n");
    rl.close();
  }
}

async function readStdin(): Promise<string> {
  let s = "";
  for await (const chunk of process.stdin) s += chunk;
  return s.replace(/\r?\n$/, "");
}

export async function login(c: Context, opts: { email?: string; passwordStdin?: boolean }) {
  const tty = Boolean(process.stdin.isTTY);
  const email = opts.email || process.env.FILEMESH_EMAIL || (tty ? await prompt("Email: ", false) : "");
  if (!email) throw usage("no email given", "pass --email or set FILEMESH_EMAIL");
  const password = opts.passwordStdin
    ? await readStdin()
    : process.env.FILEMESH_PASSWORD || (tty ? await prompt("Password: ", true) : "");
  if (!password)
    throw usage(
      "no password given",
      "pipe it with --password-stdin, set FILEMESH_PASSWORD or run on a terminal",
    );
  const clients = connect(c.server, c.plaintext);
  try {
    const res = await anon<authv1.LoginResponse>((md, o, cb) =>
      clients.auth.login({ email, password }, md, o, cb),
    );
    saveLogin(c.dir, c.server, c.plaintext, email, res);
    return {
      text: `logged in as ${email} (${c.server})`,
      json: { email, userId: res.userId, server: c.server },
    };
  } finally {
    clients.close();
  }
}

export async function logout(c: Context) {
  const stored = readJson<Credentials>(credentialsFile(c.dir));
  if (stored?.refreshToken) {
    const s = openSession(c.dir, {});
    try {
      await s.call<authv1.LogoutResponse>((md, o, cb) =>
        s.clients.auth.logout({ allSessions: false }, md, o, cb),
      );
    } catch {
      // The local credentials go either way; an already ended session is fine.
    } finally {
      s.clients.close();
    }
  }
  rmSync(credentialsFile(c.dir), { force: true });
  return { text: "logged out", json: { loggedOut: true } };
}

export async function whoami(c: Context) {
  const s = c.session();
  const me = (await s.call<userv1.GetMeResponse>((md, o, cb) => s.clients.users.getMe({}, md, o, cb))).user!;
  return {
    text: `${me.email} (${me.displayName || "no display name"}) id ${me.id} on ${s.creds.server}`,
    json: {
      id: me.id,
      email: me.email,
      displayName: me.displayName,
      homeFolderId: me.homeFolderId,
      server: s.creds.server,
    },
  };
}
