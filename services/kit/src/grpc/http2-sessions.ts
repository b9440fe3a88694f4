// Node's http2 keeps each session's open streams in a Map (`session[kState].streams`): a stream
// is added when it opens and removed when it closes. That churn makes V8 replace the table behind
// the Map every few calls, and V8 links every table it replaces to the one that replaced it (so
// that live iterators can follow), with the entries it held.
//
// A full collection promotes the table in use. Once the next one replaces it, that dead old table
// keeps the new young one alive through every scavenge, with the streams in it. The chain after
// it (every later table, and through them every finished call's stream, handlers and buffers) is
// promoted in turn: a dead old object keeps young ones alive ("nepotism"). It lasts until the next
// full collection, which starts the next chain.
//
// Measured on the permission service (bench/README, issue 14, stop 41): its young generation
// promoted ≈ 2 MiB of finished calls per scavenge instead of ≈ 0.1, scavenges paused 2–5× longer,
// and the old generation filled in seconds.
//
// `untangleHttp2Sessions` gives every http2 session this process makes from then on (the gRPC
// server's and clients') a stream map over a plain object, whose stores do not link, and, for the
// Set of streams still waiting for their id, which churns the same way, one over an array. It
// relies on node:http2's internal session state (checked on Node 20): where that state is not
// what it expects, a session keeps Node's own Map and Set and works as before.
import http2 from "node:http2";
import { types } from "node:util";

/** Open streams by id: what node:http2 uses of its Map (get, set, delete, size, forEach). */
export class StreamMap<V> {
  #byId: Record<number, V> = Object.create(null);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    return this.#byId[id];
  }

  has(id: number): boolean {
    return this.#byId[id] !== undefined;
  }

  set(id: number, value: V): this {
    if (this.#byId[id] === undefined) this.#size++;
    this.#byId[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (this.#byId[id] === undefined) return false;
    delete this.#byId[id];
    this.#size--;
    return true;
  }

  /** In id order; a stream removed while iterating (destroyed by `f`) and not reached yet is skipped, as in a Map. */
  forEach(f: (value: V, id: number, map: this) => void): void {
    for (const [id, value] of this.entries()) f(value, id, this);
  }

  *entries(): IterableIterator<[number, V]> {
    for (const key of Object.keys(this.#byId)) {
      const value = this.#byId[Number(key)];
      if (value !== undefined) yield [Number(key), value];
    }
  }

  *keys(): IterableIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }

  clear(): void {
    this.#byId = Object.create(null);
    this.#size = 0;
  }
}

/** Streams waiting for their id: few at a time (a server's leaves at once), so an array. */
export class StreamSet<V> {
  #items: V[] = [];

  get size(): number {
    return this.#items.length;
  }

  has(value: V): boolean {
    return this.#items.includes(value);
  }

  add(value: V): this {
    if (!this.#items.includes(value)) this.#items.push(value);
    return this;
  }

  delete(value: V): boolean {
    const i = this.#items.indexOf(value);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** Over the streams there when it began; one removed before it is reached is skipped, as in a Set. */
  forEach(f: (value: V, again: V, set: this) => void): void {
    for (const value of this.#items.slice()) if (this.has(value)) f(value, value, this);
  }

  values(): IterableIterator<V> {
    return this.#items.slice().values();
  }

  keys(): IterableIterator<V> {
    return this.values();
  }

  [Symbol.iterator](): IterableIterator<V> {
    return this.values();
  }

  clear(): void {
    this.#items = [];
  }
}

interface SessionState {
  streams: unknown;
  pendingStreams: unknown;
}

/** node:http2's internal state of a session (the `kState` symbol), if it has the shape this module expects. */
function stateOf(session: http2.Http2Session): SessionState | undefined {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === "state");
  if (key === undefined) return undefined;
  const state = (session as unknown as Record<symbol, SessionState | undefined>)[key];
  return state !== null && typeof state === "object" && "streams" in state && "pendingStreams" in state
    ? state
    : undefined;
}

/**
 * Gives a new session a stream map and set that do not chain (see the top of this file); true
 * when it did. A session whose state is not Node's empty Map and Set is left as it is.
 */
export function untangleSession(session: http2.Http2Session): boolean {
  const state = stateOf(session);
  if (!state) return false;
  const { streams, pendingStreams } = state;
  // Node's are its SafeMap and SafeSet, whose prototypes are cut from Map's and Set's: not instanceof.
  if (!types.isMap(streams) || !types.isSet(pendingStreams)) return false;
  if (streams.size > 0 || pendingStreams.size > 0) return false;
  state.streams = new StreamMap();
  state.pendingStreams = new StreamSet();
  return true;
}

/** Whether a session has the stream map and set of this module (tests, diagnostics). */
export function isUntangled(session: http2.Http2Session): boolean {
  const state = stateOf(session);
  return state?.streams instanceof StreamMap && state.pendingStreams instanceof StreamSet;
}

let installed = false;

/**
 * From now on, every http2 session of this process (`http2.createServer`, `createSecureServer`
 * and `connect`, as grpc-js calls them) gets the stream map and set of this module. Idempotent;
 * the kit's server runtime and client factory call it.
 */
export function untangleHttp2Sessions(): void {
  if (installed) return;
  installed = true;
  const h2 = http2 as unknown as Record<
    "createServer" | "createSecureServer" | "connect",
    (...a: unknown[]) => unknown
  >;
  for (const name of ["createServer", "createSecureServer"] as const) {
    const create = h2[name];
    h2[name] = function (this: unknown, ...args: unknown[]) {
      const server = create.apply(this, args) as http2.Http2Server;
      server.on("session", untangleSession);
      return server;
    };
  }
  const connect = h2.connect;
  h2.connect = function (this: unknown, ...args: unknown[]) {
    const session = connect.apply(this, args) as http2.ClientHttp2Session;
    untangleSession(session);
    return session;
  };
}
