// What every command gets: where the config lives, which server, how to print, and the
// logged-in session (opened lazily, so `login` and `--help` need none).
import { type Credentials, credentialsFile, readJson } from "./config.js";
import { createResolver, type Resolver } from "./paths.js";
import { openSession, type Session } from "./session.js";

export interface Context {
  dir: string;
  server: string;
  plaintext: boolean;
  json: boolean;
  /** Progress bars: stderr is a terminal and --json is off. */
  bars: boolean;
  signal: AbortSignal;
  session(): Session;
  resolver(): Resolver;
  close(): void;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

export function createContext(opts: {
  dir: string;
  server?: string;
  plaintext?: boolean;
  tls?: boolean;
  json: boolean;
  signal: AbortSignal;
}): Context {
  const stored = readJson<Credentials>(credentialsFile(opts.dir));
  const explicit = opts.server || process.env.FILEMESH_SERVER;
  const server = explicit || stored?.server || "localhost:8080";
  // Loopback (a local `npm start`) defaults to plaintext, anything else to TLS.
  const plaintext = opts.tls
    ? false
    : opts.plaintext ||
      ["1", "true"].includes(process.env.FILEMESH_PLAINTEXT ?? "") ||
      (!explicit && stored ? stored.plaintext : LOOPBACK.test(server));
  let session: Session | undefined;
  let resolver: Resolver | undefined;
  return {
    dir: opts.dir,
    server,
    plaintext,
    json: opts.json,
    bars: Boolean(process.stderr.isTTY) && !opts.json,
    signal: opts.signal,
    session() {
      session ??= openSession(opts.dir, { server, plaintext });
      return session;
    },
    resolver() {
      resolver ??= createResolver(this.session());
      return resolver;
    },
    close() {
      session?.clients.close();
    },
  };
}
