import type { Pool, PoolClient } from "pg";
import type { Logger } from "pino";

export interface ListenOptions {
  pool: Pool;
  channel: string;
  log: Logger;
  /** Called on every notification, and after each (re)connect to catch up on missed ones. */
  onNotify: () => void;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface Listener {
  /** True while a LISTEN connection is up. */
  isListening(): boolean;
  close(): Promise<void>;
}

/**
 * Holds one pooled connection in LISTEN on `channel`. When that connection dies (Postgres
 * restart, terminated backend, network) it is destroyed and a new one is opened with backoff;
 * the caller's polling covers the gap.
 */
export function listenForNotify(opts: ListenOptions): Listener {
  const minMs = opts.retryMinMs ?? 200;
  const maxMs = opts.retryMaxMs ?? 5000;
  let client: PoolClient | undefined;
  let onError: ((err: Error) => void) | undefined;
  let closed = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let opening: Promise<void> | undefined;

  const schedule = () => {
    if (closed || timer) return;
    const ms = Math.min(maxMs, minMs * 2 ** failures);
    failures++;
    timer = setTimeout(() => {
      timer = undefined;
      opening = open();
    }, ms);
    timer.unref();
  };

  const detach = (c: PoolClient) => {
    client = undefined;
    c.removeAllListeners("notification");
    if (onError) c.off("error", onError);
    onError = undefined;
  };

  const drop = (c: PoolClient, err?: Error) => {
    if (client !== c) return;
    detach(c);
    c.release(err ?? true);
    if (!closed) {
      opts.log.warn({ channel: opts.channel, err: err?.message }, "outbox listen connection lost");
      schedule();
    }
  };

  async function open(): Promise<void> {
    if (closed) return;
    let c: PoolClient | undefined;
    try {
      c = await opts.pool.connect();
      const conn = c;
      onError = (err) => drop(conn, err);
      conn.on("error", onError);
      conn.on("notification", (m) => {
        if (m.channel === opts.channel) opts.onNotify();
      });
      client = conn;
      await conn.query(`LISTEN "${opts.channel}"`);
      if (closed) return;
      if (failures > 0) opts.log.info({ channel: opts.channel }, "outbox listen connection restored");
      failures = 0;
      opts.onNotify();
    } catch (err) {
      if (c && client === c) drop(c, err as Error);
      else if (!closed) {
        opts.log.warn({ channel: opts.channel, err: (err as Error).message }, "outbox listen failed");
        schedule();
      }
    }
  }

  opening = open();

  return {
    isListening: () => client !== undefined,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await opening;
      const c = client;
      if (!c) return;
      try {
        await c.query(`UNLISTEN "${opts.channel}"`);
        detach(c);
        c.release();
      } catch (err) {
        detach(c);
        c.release(err as Error);
      }
    },
  };
}
