import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, type Status } from "@nats-io/transport-node";
import type { Logger } from "pino";

export interface NatsOptions {
  /**
   * One URL or a comma-separated list; `nats://user:pass@host:port` or `nats://token@host:port`
   * (NATS_URL, a secret setting: the credentials go to the auth options, never to a log line).
   */
  url: string;
  /** Client name shown by the server's monitoring (e.g. the service name). */
  name: string;
  log: Logger;
  /** Keep retrying the very first connection instead of failing (default false). */
  waitOnFirstConnect?: boolean;
  /** Reconnect backoff bounds in ms (defaults 250 and 5000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Timeout for JetStream API calls and publishes in ms (default 5000). */
  timeoutMs?: number;
}

export interface NatsHandle {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** False between a disconnect and the next successful reconnect. */
  isConnected(): boolean;
  /** Drains (bounded) and closes the connection. */
  close(): Promise<void>;
}

interface ParsedServers {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/** Splits credentials off the URLs so they reach the auth options and never a log line. */
export function parseNatsUrl(url: string): ParsedServers {
  const out: ParsedServers = { servers: [] };
  for (const raw of url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const withScheme = raw.includes("://") ? raw : `nats://${raw}`;
    const u = new URL(withScheme);
    if (u.username && u.password) {
      out.user = decodeURIComponent(u.username);
      out.pass = decodeURIComponent(u.password);
    } else if (u.username) {
      out.token = decodeURIComponent(u.username);
    }
    out.servers.push(`${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}`);
  }
  if (out.servers.length === 0) throw new Error("NATS url is empty");
  return out;
}

/**
 * Replies (JetStream API answers, pulled messages) come to `_INBOX.<user>.…`: a NATS user that
 * may subscribe only to its own inbox cannot read another service's replies (k8s/values/nats.yaml).
 */
export const inboxPrefixOf = (user: string): string => `_INBOX.${user.replace(/[^A-Za-z0-9_-]/g, "_")}`;

/**
 * Backoff as a function of the time since the connection was lost: starts at `min`, grows by
 * about 1.5x per attempt, caps at `max`, with jitter. (The client asks for a delay on every pass
 * of its dial loop, so counting calls would not count attempts.)
 */
function reconnectDelay(min: number, max: number): { delay(): number; reset(): void } {
  let since: number | undefined;
  return {
    delay() {
      const now = Date.now();
      since ??= now;
      const base = Math.min(max, Math.max(min, (now - since) / 2));
      return Math.round(base * (0.8 + Math.random() * 0.4));
    },
    reset() {
      since = undefined;
    },
  };
}

function logStatus(log: Logger, s: Status): void {
  switch (s.type) {
    case "disconnect":
      log.warn({ server: s.server }, "nats disconnected");
      break;
    case "reconnect":
      log.info({ server: s.server }, "nats reconnected");
      break;
    case "reconnecting":
      log.debug("nats reconnecting");
      break;
    case "error":
      log.warn({ err: s.error.message }, "nats async error");
      break;
    case "ldm":
      log.warn({ server: s.server }, "nats server entering lame duck mode");
      break;
    case "staleConnection":
    case "slowConsumer":
    case "forceReconnect":
      log.warn({ status: s.type }, "nats connection status");
      break;
    case "close":
      log.info("nats connection closed");
      break;
    default:
      break;
  }
}

/** Connects to NATS with JetStream; reconnects forever with backoff and logs status changes. */
export async function connectNats(opts: NatsOptions): Promise<NatsHandle> {
  const { servers, user, pass, token } = parseNatsUrl(opts.url);
  const timeout = opts.timeoutMs ?? 5000;
  const backoff = reconnectDelay(opts.reconnectMinMs ?? 250, opts.reconnectMaxMs ?? 5000);
  const log = opts.log.child({ component: "nats" });
  const nc = await connect({
    servers,
    name: opts.name,
    ...(user !== undefined ? { user, pass, inboxPrefix: inboxPrefixOf(user) } : {}),
    ...(token !== undefined ? { token } : {}),
    maxReconnectAttempts: -1,
    reconnectDelayHandler: backoff.delay,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    pingInterval: 20_000,
    maxPingOut: 3,
    timeout,
    // No Error (and stack) built ahead of every request, i.e. every JetStream publish: ≈ 1 % of
    // the file and permission services' CPU in the upload benches (bench/README.md, stop 35).
    // Failures still say what failed; the relay logs message and cause, not stacks.
    noAsyncTraces: true,
  });
  backoff.reset(); // waitOnFirstConnect may have used it; the next outage starts from `min`
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") connected = false;
      if (s.type === "reconnect") {
        connected = true;
        backoff.reset();
      }
      logStatus(log, s);
    }
  })().catch((err: unknown) => log.warn({ err: String(err) }, "nats status loop ended"));
  log.info({ server: nc.getServer(), version: nc.info?.version }, "nats connected");
  const js = jetstream(nc, { timeout });
  const jsm = await jetstreamManager(nc, { timeout }).catch(async (err: unknown) => {
    await nc.close();
    throw err;
  });
  return {
    nc,
    js,
    jsm,
    isConnected: () => connected && !nc.isClosed(),
    async close() {
      if (nc.isClosed()) return;
      const drained = nc.drain().catch(() => undefined);
      const timer = new Promise((r) => setTimeout(r, timeout).unref());
      await Promise.race([drained, timer]);
      if (!nc.isClosed()) await nc.close();
      await nc.closed();
    },
  };
}
