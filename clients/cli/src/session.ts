// Connection and identity: the generated grpc-js clients on one channel to the gateway, the
// bearer token on every call, and a silent refresh (under a lock) when the access token is
// about to expire or the server says UNAUTHENTICATED.
import { authv1, filev1, permissionv1, userv1 } from "@filemesh/contracts";
import {
  type CallOptions,
  type ChannelCredentials,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { type Credentials, credentialsFile, readJson, withLock, writeJson } from "./config.js";
import { CliError, EXIT, isServiceError } from "./errors.js";

export type Callback<T> = (err: ServiceError | null, res: T) => void;
export type Start<T> = (md: Metadata, opts: Partial<CallOptions>, cb: Callback<T>) => unknown;

export interface Clients {
  auth: authv1.AuthServiceClient;
  users: userv1.UserServiceClient;
  perms: permissionv1.PermissionServiceClient;
  files: filev1.FileServiceClient;
  close(): void;
}

export function connect(server: string, plaintext: boolean): Clients {
  const creds: ChannelCredentials = plaintext ? credentials.createInsecure() : credentials.createSsl();
  // One channel shared by all four stubs (they all go to the gateway).
  const files = new filev1.FileServiceClient(server, creds, { "grpc.max_receive_message_length": 16 << 20 });
  const channelOverride = files.getChannel();
  const opts = { channelOverride };
  return {
    files,
    auth: new authv1.AuthServiceClient(server, creds, opts),
    users: new userv1.UserServiceClient(server, creds, opts),
    perms: new permissionv1.PermissionServiceClient(server, creds, opts),
    close: () => files.close(),
  };
}

const DEADLINE_MS = 30_000;

/** A unary call without a token (login). */
export function anon<T>(start: Start<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    start(new Metadata(), { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export interface Session {
  creds: Credentials;
  clients: Clients;
  /** A unary call with the bearer token, refreshed and retried once on UNAUTHENTICATED. */
  call<T>(start: Start<T>): Promise<T>;
  /** Metadata with a fresh bearer token (for streams). */
  metadata(): Promise<Metadata>;
  /** Forces a refresh (after a stream was refused with UNAUTHENTICATED). */
  refresh(): Promise<void>;
}

export function saveLogin(
  dir: string,
  server: string,
  plaintext: boolean,
  email: string,
  res: authv1.LoginResponse,
) {
  const creds: Credentials = {
    server,
    plaintext,
    email,
    userId: res.userId,
    refreshToken: res.refreshToken,
    accessToken: res.accessToken,
    accessExpires: Date.now() + res.expiresIn * 1000,
  };
  writeJson(credentialsFile(dir), creds);
  return creds;
}

export function openSession(dir: string, override: { server?: string; plaintext?: boolean }): Session {
  const stored = readJson<Credentials>(credentialsFile(dir));
  if (!stored?.refreshToken) {
    throw new CliError(EXIT.AUTH, "NOT_LOGGED_IN", "not logged in", "run `filemesh login`");
  }
  let creds = stored;
  const clients = connect(override.server ?? creds.server, override.plaintext ?? creds.plaintext);

  async function refresh(force: boolean): Promise<void> {
    const spent = creds.accessToken;
    await withLock(dir, "credentials", async () => {
      // Another filemesh process may have refreshed while we waited for the lock.
      const now = readJson<Credentials>(credentialsFile(dir)) ?? creds;
      if (now.accessToken !== spent || (!force && now.accessExpires - 30_000 > Date.now())) {
        creds = now;
        return;
      }
      try {
        const res = await anon<authv1.RefreshResponse>((md, o, cb) =>
          clients.auth.refresh({ refreshToken: now.refreshToken }, md, o, cb),
        );
        creds = saveLogin(dir, now.server, now.plaintext, now.email, res);
      } catch (err) {
        if (isServiceError(err) && (err.code === status.UNAUTHENTICATED || err.code === status.NOT_FOUND)) {
          throw new CliError(
            EXIT.AUTH,
            "SESSION_EXPIRED",
            "the stored session has ended",
            "run `filemesh login`",
          );
        }
        throw err;
      }
    });
  }

  async function metadata(): Promise<Metadata> {
    if (creds.accessExpires - 30_000 <= Date.now()) await refresh(false);
    const md = new Metadata();
    md.set("authorization", `Bearer ${creds.accessToken}`);
    return md;
  }

  async function call<T>(start: Start<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const md = await metadata();
      try {
        return await new Promise<T>((resolve, reject) => {
          start(md, { deadline: Date.now() + DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res)));
        });
      } catch (err) {
        if (attempt === 0 && isServiceError(err) && err.code === status.UNAUTHENTICATED) {
          await refresh(true);
          continue;
        }
        throw err;
      }
    }
  }

  return {
    get creds() {
      return creds;
    },
    clients,
    call,
    metadata,
    refresh: () => refresh(true),
  };
}
