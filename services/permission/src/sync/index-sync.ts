// Keeps this replica's index equal to Postgres, fast: a cold load (snapshot or Postgres),
// then the Redis stream tailed with a blocking read (milliseconds behind a commit), with
// Postgres as the safety net — any gap, a Redis restart or flush, an undecodable entry or a
// lost append is filled from the change log, and a poll of the head revision every
// `pollIntervalMs` bounds staleness even when Redis is gone. The index is "fresh" while a
// poll confirmed it within `maxStalenessMs`; otherwise reads fail closed (UNAVAILABLE) and
// the replica reports NOT_SERVING.
import type { permissionv1 } from "@filemesh/contracts";
import type { Logger, Redis, Registry } from "@filemesh/kit";
import type pg from "pg";
import type { AclIndex } from "../index/acl-index.js";
import { type Q, readChanges, readHead } from "../store/change-log.js";
import { type AclKeys, appendChange } from "./change-stream.js";
import { coldLoad, type Loaded } from "./cold-load.js";
import { createHeadCheck } from "./head-check.js";
import { createSequencer } from "./sequencer.js";
import { tailStream } from "./stream-tail.js";
import { syncMetrics } from "./sync-metrics.js";
import { createWaiters, delay } from "./waiters.js";

export interface IndexSyncOptions {
  pool: pg.Pool;
  redis: Redis;
  /** A connection of its own for the blocking stream read. */
  tailRedis: Redis;
  prefix: string;
  log: Logger;
  registry: Registry;
  pollIntervalMs: number;
  maxStalenessMs: number;
  minRevisionWaitMs: number;
  streamMaxLen: number;
  /** Called when the replica turns ready (caught up and fresh) or stops being so. */
  onReadiness(serving: boolean): void;
}

export interface IndexSync {
  readonly index: AclIndex;
  readonly keys: AclKeys;
  readonly instance: string;
  /** How the index was last loaded (for logs and the bench). */
  readonly loaded: Pick<Loaded, "source" | "ms"> | undefined;
  /** Cold load and catch up; resolves once the index is ready. */
  start(): Promise<void>;
  stop(): void;
  fresh(): boolean;
  /** Applies a change committed by this replica (in order, like any other). */
  offer(change: permissionv1.Change): void;
  /** Pulls every committed change after the index revision (through `q` inside a transaction). */
  catchUp(q?: Q): Promise<void>;
  /**
   * Waits (bounded) until the index reached `revision`: "reached", "future" when the cluster
   * has not issued it (Postgres' head is below it), "timeout" when it could not tell in time.
   */
  waitFor(revision: number, deadline: number): Promise<WaitResult>;
  /** Appends to the Redis stream, giving up after a short while (the poll covers it). */
  publish(change: permissionv1.Change): Promise<void>;
  /** Calls `fn` after each advance of the index; returns the unsubscribe function. */
  onAdvance(fn: () => void): () => void;
}

export type WaitResult = "reached" | "future" | "timeout";

const PAGE = 1000;
/**
 * A `min_revision` this far past the highest revision this replica has seen (stream or poll)
 * is refused without asking Postgres: revisions are issued one per serialized transaction, so
 * the cluster cannot have issued a million of them that neither the stream nor the last poll
 * (within ACL_MAX_STALENESS, or reads fail closed anyway) told this replica about.
 */
export const FUTURE_SLACK = 1_000_000;
/** Head reads on behalf of `min_revision` waits start at most this often per replica. */
const HEAD_CHECK_INTERVAL_MS = 50;

export function createIndexSync(o: IndexSyncOptions): IndexSync {
  let loaded: Loaded | undefined;
  let knownHead = 0;
  let lastSeen = 0;
  let confirmedAt = Number.NEGATIVE_INFINITY;
  let ready = false;
  let serving = false;
  let stopped = false;
  let pulling: Promise<void> | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  const waiters = createWaiters();
  const current = () => {
    if (!loaded) throw new Error("acl index not loaded");
    return loaded.index;
  };
  const seq = createSequencer(current, () => waiters.notify());
  const countRead = syncMetrics(o.registry, () => ({
    revision: loaded?.index.revision ?? 0,
    lag: Math.max(0, knownHead - (loaded?.index.revision ?? 0)),
    tuples: loaded?.index.size ?? 0,
  }));

  const pullFrom = async (q: Q) => {
    for (;;) {
      const before = current().revision;
      if (q === o.pool) countRead("catch_up");
      const changes = await readChanges(q, before, PAGE);
      for (const c of changes) seq.offer(c);
      if (changes.length && current().revision === before) {
        throw new Error(`acl.changes has no revision ${before + 1}`);
      }
      if (changes.length < PAGE) return;
    }
  };
  const pull = () => {
    pulling ??= pullFrom(o.pool).finally(() => {
      pulling = undefined;
    });
    return pulling;
  };

  const setServing = (next: boolean) => {
    if (next === serving || stopped) return;
    serving = next;
    o.log[next ? "info" : "warn"](
      { revision: loaded?.index.revision },
      next ? "acl index serving" : "acl index stale",
    );
    o.onReadiness(next);
  };
  const fresh = () => ready && performance.now() - confirmedAt <= o.maxStalenessMs;

  let polling = false;
  const poll = async () => {
    if (polling) return; // a slow Postgres: the next tick retries
    polling = true;
    const at = performance.now();
    // Read before the head: the index may advance (a local commit) while the query runs.
    const had = current().revision;
    try {
      countRead("poll");
      const head = await readHead(o.pool);
      knownHead = Math.max(knownHead, head.revision);
      if (head.instance === loaded?.instance) heads.record(head.revision, at);
      if (head.instance !== loaded?.instance || head.revision < had) {
        o.log.error(
          { head: head.revision, revision: had },
          "acl database changed under the index; reloading",
        );
        confirmedAt = Number.NEGATIVE_INFINITY; // the index in hand is wrong: fail closed
        setServing(false);
        await reload(false);
      } else if (head.revision > current().revision) {
        await pull();
      }
      if (current().revision >= head.revision) confirmedAt = Math.max(confirmedAt, at);
    } catch (err) {
      o.log.warn({ err: (err as Error).message }, "acl head poll failed");
    } finally {
      polling = false;
    }
    setServing(fresh());
  };

  const reload = async (useSnapshot: boolean) => {
    const next = await coldLoad({ pool: o.pool, redis: o.redis, prefix: o.prefix, log: o.log, useSnapshot });
    loaded = next;
    seq.clear();
    lastSeen = 0;
    await pull();
    o.log.info(
      { source: next.source, ms: next.ms, revision: next.index.revision, tuples: next.index.size },
      "acl index loaded",
    );
  };

  const heads = createHeadCheck({
    async read() {
      countRead("min_revision");
      const head = await readHead(o.pool);
      if (head.instance !== loaded?.instance) throw new Error("acl database changed under the index");
      knownHead = Math.max(knownHead, head.revision);
      return head.revision;
    },
    intervalMs: HEAD_CHECK_INTERVAL_MS,
    stopped: () => stopped,
  });
  const reached = (revision: number) => () => current().revision >= revision;

  const tail = () =>
    tailStream({
      redis: o.tailRedis,
      key: () => loaded!.keys.changes,
      from: () => Math.max(lastSeen, current().revision),
      onEntries(entries) {
        for (const e of entries) {
          lastSeen = Math.max(lastSeen, e.revision);
          if (e.change) seq.offer(e.change);
        }
        knownHead = Math.max(knownHead, lastSeen);
        if (lastSeen > current().revision) void pull().catch(() => {});
      },
      stopped: () => stopped,
      log: o.log,
    });

  return {
    get index() {
      return current();
    },
    get keys() {
      return loaded!.keys;
    },
    get instance() {
      return loaded!.instance;
    },
    get loaded() {
      return loaded && { source: loaded.source, ms: loaded.ms };
    },
    async start() {
      for (let attempt = 1; !stopped; attempt++) {
        try {
          await reload(true);
          break;
        } catch (err) {
          o.log.warn({ err: (err as Error).message, attempt }, "acl index load failed; retrying");
          await delay(Math.min(200 * attempt, 2_000));
        }
      }
      if (stopped) return;
      ready = true;
      await poll();
      pollTimer = setInterval(() => void poll(), o.pollIntervalMs);
      void tail();
    },
    stop() {
      stopped = true;
      if (pollTimer) clearInterval(pollTimer);
      o.tailRedis.disconnect();
      waiters.notify();
    },
    fresh,
    offer(change) {
      knownHead = Math.max(knownHead, Number(change.revision));
      if (seq.offer(change)) void pull().catch(() => {});
    },
    catchUp: (q) => (q ? pullFrom(q) : pull()),
    async waitFor(revision, deadline) {
      const done = reached(revision);
      if (done()) return "reached";
      if (revision > knownHead + FUTURE_SLACK) return "future";
      const asked = performance.now();
      const end = Math.min(Date.now() + o.minRevisionWaitMs, deadline);
      // The stream usually delivers within a millisecond; then ask Postgres (shared, rate-bounded).
      if (await waiters.until(done, Math.min(end, Date.now() + 20))) return "reached";
      while (Date.now() < end && !stopped) {
        const head = await heads.since(asked, end);
        if (head !== undefined && head < revision) return done() ? "reached" : "future";
        if (head !== undefined) await pull().catch(() => {});
        // Postgres unreachable or slow: wait for the stream until the end.
        if (await waiters.until(done, Math.min(end, Date.now() + 50))) return "reached";
      }
      return done() ? "reached" : "timeout";
    },
    async publish(change) {
      const key = loaded!.keys.changes;
      const append = appendChange(o.redis, key, change, o.streamMaxLen).catch((err: Error) => {
        if (!/equal or smaller/.test(err.message))
          o.log.warn({ err: err.message }, "acl stream append failed");
      });
      await Promise.race([append, delay(250)]);
    },
    onAdvance: (fn) => waiters.subscribe(fn),
  };
}
