// Admission control in front of a Postgres pool (issue 15 §2): a checkout waits for a free
// connection for as long as its call can still finish, instead of failing after a fixed
// timeout. What cannot finish in time is shed at once as UNAVAILABLE `DATABASE_BUSY` with a
// RetryInfo saying when the queue will have drained (503 + Retry-After through the gateway).
//
// - The call a checkout runs for comes from the call scope (AsyncLocalStorage set by the kit's
//   gRPC service wrapper): its deadline bounds the wait, its cancellation leaves the queue,
//   its principal is the fairness key. Work outside a call (data endpoints, jobs) waits at
//   most `maxWaitMs`.
// - Fair across callers: one FIFO per principal, served round robin, so one user's burst of a
//   thousand uploads queues behind itself, not in front of everyone else. (Ordering a
//   principal's checkouts by when their call first asked — work started finished first — was
//   measured: a third fewer uploads/s in the 1,000-upload burst, as the permission writes of
//   the burst no longer arrive together to be group-committed; `bench/README.md`.)
// - Shedding: a waiter still queued when only a hold's time is left before its deadline is
//   refused then (a timer). Earlier refusals — on arrival, and by a sweep every 100 ms — need
//   two estimates to agree that its turn comes long after its deadline: the mean time a
//   connection is held (an EWMA) and the grants the queue actually got per second, measured
//   once the queue has lasted a second. One GC pause or event-loop stall inflates every hold
//   in flight at once; the hold estimate alone refused half of a 5,000-download burst the
//   queue would have served in time (and, on arrival in a burst's first second, ≈ 2,000 of
//   15,000 REST downloads). So nobody is refused early in a queue's first second.
import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";
import { callCancelled, unavailable } from "../errors.js";

/** What admission needs of the call a query runs for (a CallContext is one). */
export interface CallScope {
  /** Absolute deadline in epoch ms. */
  readonly deadline?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Whether `signal` is (or would be) aborted, when the scope can tell without making it. */
  readonly aborted?: boolean | undefined;
  readonly principal?: { readonly subject: string } | undefined;
}

const scopes = new AsyncLocalStorage<CallScope>();

/** Runs `fn` (and everything it awaits) on behalf of `scope`. */
export const runInCallScope = <T>(scope: CallScope, fn: () => T): T => scopes.run(scope, fn);
export const currentCallScope = (): CallScope | undefined => scopes.getStore();
/**
 * Runs `fn` outside any call: for the clean-up a failed or cancelled call owes (releasing a
 * reservation, returning a state), whose checkouts must not be refused because the call that
 * failed was cancelled or ran out of time. They wait at most `maxWaitMs`, as jobs do.
 */
export const outsideCall = <T>(fn: () => T): T => scopes.exit(fn);

export interface AdmissionOptions {
  /** Connections that may be checked out at once (the pool's max). */
  size: number;
  /**
   * Longest wait of a checkout outside any call or in a call without deadline (a call with a
   * deadline waits as long as it can still finish: its deadline is the client's to choose).
   */
  maxWaitMs: number;
  /** Hold time assumed before any was measured. */
  initialHoldMs?: number;
}

export interface AdmissionStats {
  inUse: number;
  waiting: number;
  admitted: number;
  shed: number;
  /** Mean time a connection is held (EWMA, ms). */
  holdMs: number;
}

interface Waiter {
  key: string;
  /** When it must have a connection (epoch ms; Infinity: never gives up). */
  until: number;
  grant(): void;
  fail(err: unknown): void;
}

const BACKGROUND = "background";
/** Weight of the latest hold in the mean (quick to follow a burst that slows every hold). */
const HOLD_ALPHA = 0.25;
/** The sweep refuses a waiter whose expected wait is this many times the time it has left. */
const HOPELESS = 2;
/** How often queued waiters are re-estimated (see `sweep`). */
const SWEEP_MS = 100;
/** A waiter gives up at least this long before its deadline. */
const MIN_MARGIN_MS = 50;
/** Weight of one sweep's grant rate in the measured rate (a time constant of about a second). */
const RATE_ALPHA = 0.1;
/** Sweeps of continuous queueing before the measured rate is trusted (a second). */
const RATE_SWEEPS = 10;

export class Admission {
  private inUse = 0;
  private waiting = 0;
  private admitted = 0;
  private shed = 0;
  private holdMs: number;
  /** Grants per ms while a queue lasts (EWMA over sweeps); see `measuredRate`. */
  private rateEwma: number | undefined;
  private rateSweeps = 0;
  private rateSince = 0;
  private rateGrants = 0;
  private closed = false;
  private sweeper: NodeJS.Timeout | undefined;
  /** One FIFO per fairness key; Map order is the round-robin order. */
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly o: AdmissionOptions) {
    this.holdMs = o.initialHoldMs ?? 5;
  }

  stats(): AdmissionStats {
    const { inUse, waiting, admitted, shed, holdMs } = this;
    return { inUse, waiting, admitted, shed, holdMs };
  }

  /** Waits for a permit; resolves with the function that returns it (call it exactly once). */
  enter(scope: CallScope | undefined = currentCallScope()): Promise<() => void> {
    if (this.closed) return Promise.reject(new Error("pool is closed"));
    // A call's signal is made only when it has to wait (the usual checkout takes none).
    if (scope && (scope.aborted ?? scope.signal?.aborted)) {
      return Promise.reject(scope.signal?.reason ?? callCancelled());
    }
    if (this.inUse < this.o.size && this.waiting === 0) return Promise.resolve(this.take());
    const key = scope?.principal?.subject ?? BACKGROUND;
    const now = Date.now();
    const budget = scope?.deadline !== undefined ? scope.deadline - now : this.o.maxWaitMs;
    const ahead = this.aheadOf(key);
    const expected = this.expectedWaitMs(key, ahead);
    // Refused at once only when clearly hopeless by both estimates; nearer cases wait and are
    // refused (or served) by the timer before their deadline.
    if (this.hopeless(expected, ahead, budget)) return Promise.reject(this.refuse(expected));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        scope?.signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        key,
        until: now + budget,
        grant: () => {
          cleanup();
          resolve(this.take());
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const leaveQueue = () => {
        const q = this.queues.get(key);
        const i = q?.indexOf(waiter) ?? -1;
        if (!q || i < 0) return false;
        q.splice(i, 1);
        if (q.length === 0) this.queues.delete(key);
        this.waiting--;
        return true;
      };
      const onAbort = () => {
        if (leaveQueue()) waiter.fail(scope?.signal?.reason ?? callCancelled());
      };
      // Still queued when only a hold's time is left (and a little for the answer to travel):
      // it cannot finish; say so before the deadline.
      const margin = Math.max(2 * this.holdMs, MIN_MARGIN_MS);
      const giveUpIn = Number.isFinite(budget) ? Math.max(0, budget - margin) : undefined;
      if (giveUpIn !== undefined) {
        timer = setTimeout(() => {
          if (leaveQueue()) waiter.fail(this.refuse(this.expectedWaitMs(key)));
        }, giveUpIn);
        timer.unref();
      }
      scope?.signal?.addEventListener("abort", onAbort, { once: true });
      const q = this.queues.get(key);
      if (q) q.push(waiter);
      else this.queues.set(key, [waiter]);
      this.waiting++;
      this.sweepSoon();
    });
  }

  /**
   * While anyone waits, every SWEEP_MS: refuse now the waiters that, at their place in the
   * queue and the hold time measured since they arrived, would reach the front long after
   * (HOPELESS ×) they must have a connection — a burst that arrived before any hold was measured is not left to wait
   * out its whole deadline and fail at the end.
   */
  private sweepSoon(): void {
    if (this.sweeper) return;
    this.sweeper = setTimeout(() => {
      this.sweeper = undefined;
      this.sweep();
      if (this.waiting > 0) this.sweepSoon();
      else {
        this.rateSweeps = 0; // the next queue measures its own rate
        this.rateEwma = undefined;
      }
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  /**
   * Clearly hopeless: the hold-based estimate `expected` and the grants the queue really got
   * per second both put the waiter's turn after HOPELESS × its time left. Never before the
   * rate is measured (a queue's first second): a stall inflates the hold estimate alone.
   */
  private hopeless(expected: number, ahead: number, leftMs: number): boolean {
    if (expected <= HOPELESS * leftMs) return false;
    const rate = this.measuredRate();
    return rate !== undefined && ahead / Math.max(rate, 1e-6) > HOPELESS * leftMs;
  }

  /** The grants per ms the queue got, once it has lasted RATE_SWEEPS sweeps; else undefined. */
  private measuredRate(): number | undefined {
    return this.rateSweeps > RATE_SWEEPS ? this.rateEwma : undefined;
  }

  /** One sweep's grants into the measured rate; the measure starts again when the queue empties. */
  private measureRate(now: number): void {
    if (this.rateSweeps === 0) {
      this.rateSweeps = 1;
      this.rateSince = now;
      this.rateGrants = this.admitted;
      return;
    }
    const dt = now - this.rateSince;
    if (dt <= 0) return;
    const sample = (this.admitted - this.rateGrants) / dt;
    this.rateSince = now;
    this.rateGrants = this.admitted;
    this.rateSweeps++;
    this.rateEwma =
      this.rateEwma === undefined ? sample : this.rateEwma + (sample - this.rateEwma) * RATE_ALPHA;
  }

  private sweep(): void {
    const now = Date.now();
    this.measureRate(now);
    const keys = this.queues.size;
    // Round robin: the j-th waiter of the k-th key in the round comes after j full rounds and
    // the heads of the k keys before it.
    for (const [k, [key, q]] of [...this.queues].entries()) {
      const kept = q.filter((w, j) => {
        const ahead = Math.min(this.waiting, j * keys + k + 1);
        const expected = (ahead * this.holdMs) / this.o.size;
        // Only the clearly hopeless: the mean hold swings under load, and a waiter refused
        // here might still have made it (the timer near its deadline is the exact bound).
        if (!this.hopeless(expected, ahead, w.until - now)) return true;
        this.waiting--;
        w.fail(this.refuse(expected));
        return false;
      });
      if (kept.length === 0) this.queues.delete(key);
      else if (kept.length !== q.length) this.queues.set(key, kept);
    }
  }

  /** Refuses every queued checkout (the pool is ending). */
  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) for (const w of q) w.fail(new Error("pool is closed"));
    this.queues.clear();
    this.waiting = 0;
  }

  /**
   * When a new waiter of `key` would be admitted: round robin serves one waiter per key in
   * turn, so at most (its own queue + 1) × keys grants come first, and never more than the
   * whole queue; `size` grants happen per mean hold.
   */
  private expectedWaitMs(key: string, ahead = this.aheadOf(key)): number {
    return ((ahead + 1) * this.holdMs) / this.o.size;
  }

  /** Waiters granted before a new waiter of `key` (round robin: see expectedWaitMs). */
  private aheadOf(key: string): number {
    const own = this.queues.get(key)?.length ?? 0;
    const keys = this.queues.size + (own ? 0 : 1);
    return Math.min(this.waiting, (own + 1) * keys);
  }

  private refuse(expectedMs: number): Error {
    this.shed++;
    const retry = Math.min(30_000, Math.max(50, Math.ceil(expectedMs)));
    return unavailable("DATABASE_BUSY", "the service is busy; retry shortly", retry);
  }

  private take(): () => void {
    this.inUse++;
    this.admitted++;
    const at = performance.now();
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inUse--;
      this.holdMs += (performance.now() - at - this.holdMs) * HOLD_ALPHA;
      this.next();
    };
  }

  private next(): void {
    while (this.inUse < this.o.size && this.waiting > 0) {
      const [key, q] = this.queues.entries().next().value as [string, Waiter[]];
      const w = q.shift()!;
      this.queues.delete(key);
      if (q.length) this.queues.set(key, q); // to the back of the round
      this.waiting--;
      w.grant();
    }
  }
}

type ConnectCallback = (err: Error | undefined, client: pg.PoolClient | undefined, done: () => void) => void;

/**
 * A pg.Pool whose checkouts (connect, and so query and inTransaction) pass the admission
 * queue. At most `max` clients are out at once, so pg-pool's own queue only ever waits for a
 * connection being opened.
 */
export class AdmittedPool extends pg.Pool {
  readonly admission: Admission;

  constructor(config: pg.PoolConfig & { max: number; maxWaitMs: number; prepareStatements?: boolean }) {
    const { maxWaitMs, ...rest } = config;
    super(rest);
    this.admission = new Admission({ size: config.max, maxWaitMs });
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const admitted = this.admit();
    if (!callback) return admitted;
    admitted.then(
      (client) => callback(undefined, client, client.release),
      (err: Error) => callback(err, undefined, () => {}),
    );
    return undefined;
  }

  override async end(): Promise<void> {
    this.admission.close();
    await super.end();
  }

  private async admit(): Promise<pg.PoolClient> {
    const leave = await this.admission.enter();
    let client: pg.PoolClient;
    try {
      client = await super.connect();
    } catch (err) {
      leave();
      throw err;
    }
    const release = client.release;
    client.release = (err?: Error | boolean) => {
      leave();
      return release.call(client, err);
    };
    return client;
  }
}
