// Registers a generated grpc-js service with plain async handlers (nice-grpc style):
//   unary          (request, ctx) => Promise<response>
//   client stream  (requests: AsyncIterable, ctx) => Promise<response>
//   server stream  (request, ctx) => AsyncIterable<response>
// Every call runs through the middleware chain; errors become google.rpc.Status details.
// Response headers set with ctx.setHeader go out with the first message (or the response).
// Methods without a handler answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
import { once } from "node:events";
import { type MethodInfo, methodCatalog } from "@filemesh/contracts";
import {
  Metadata,
  type Server,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { runInCallScope } from "../db/admission.js";
import { callCancelled, deadlinePassed, invalidArgument, toServiceError, unimplemented } from "../errors.js";
import type { Logger } from "../logger.js";
import { newTraceparent, traceIdOf } from "../trace-id.js";
import { MAX_UNWRITTEN, WRITTEN } from "./bytes-message.js";
import { type CallContext, metadataString, type Principal, requestIdFrom } from "./context.js";
import { compose, DONE, type Middleware } from "./middleware.js";
import { checkHeader } from "./response-header.js";

interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => unknown;
  responseSerialize: (v: never) => Buffer;
}
type ServiceDef = Record<string, MethodDef>;

type Req<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type Res<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

export type Handler<M> = M extends { requestStream: true; responseStream: false }
  ? (requests: AsyncIterable<Req<M>>, ctx: CallContext) => Promise<Res<M>>
  : M extends { requestStream: false; responseStream: true }
    ? (request: Req<M>, ctx: CallContext) => AsyncIterable<Res<M>>
    : M extends { requestStream: false; responseStream: false }
      ? // A unary handler may answer at once (no promise) when it has nothing to wait for.
        (request: Req<M>, ctx: CallContext) => Promise<Res<M>> | Res<M>
      : never;

export type Handlers<S> = { [K in keyof S]: Handler<S[K]> };

/**
 * Rate-limit cost hooks of unary and server-streaming methods: the tokens a call takes from its
 * rate class, computed from the decoded request (cheap: e.g. a repeated field's length).
 */
export type Costs<S> = { [K in keyof S]?: (request: Req<S[K]>) => number };

const catalogByPath = new Map(methodCatalog.map((m) => [m.path, m]));

/**
 * grpc-js answers INTERNAL when a request does not decode; a malformed message is the
 * caller's mistake, so decoding failures are carried to the handler wrapper as this marker
 * and answered INVALID_ARGUMENT.
 */
const UNDECODABLE = Symbol("undecodable");
type Undecodable = { [UNDECODABLE]: true };
const isUndecodable = (m: unknown): m is Undecodable =>
  typeof m === "object" && m !== null && UNDECODABLE in (m as object);
const malformed = () =>
  invalidArgument("MALFORMED_REQUEST", "the request is not a valid protobuf message for this method");

function tolerantDecoder(decode: (b: Buffer) => unknown): (b: Buffer) => unknown {
  return (b) => {
    try {
      return decode(b);
    } catch {
      return { [UNDECODABLE]: true };
    }
  };
}

async function* checked<T>(requests: AsyncIterable<T>): AsyncIterable<T> {
  for await (const r of requests) {
    if (isUndecodable(r)) throw malformed();
    yield r;
  }
}

export interface AddServiceOptions {
  log: Logger;
  middlewares: readonly Middleware[];
  /** ErrorInfo.domain, e.g. "auth.filemesh". */
  errorDomain: string;
  /** Each call runs in the database admission's call scope (RuntimeOptions.callScope). */
  callScope?: boolean;
}

export interface AnyCall {
  readonly metadata: ServerUnaryCall<unknown, unknown>["metadata"];
  getDeadline: ServerUnaryCall<unknown, unknown>["getDeadline"];
  getPeer(): string;
  sendMetadata(md: Metadata): void;
  on(event: "cancelled", listener: () => void): unknown;
  off(event: "cancelled", listener: () => void): unknown;
}

/**
 * The context of one call. Everything a call may never need is made on first use: the
 * abort signal (and its deadline timer and cancel listener), the child logger, the request id
 * when the caller sent none, the peer address and the response headers' metadata. Most calls
 * use none of them, so a call costs no closures, timers or loggers of its own.
 */
class Call implements CallContext {
  readonly method: MethodInfo;
  readonly metadata: Metadata;
  readonly deadline?: number;
  readonly cost?: number;
  principal?: Principal;
  #call: AnyCall;
  #log: Logger;
  #child: Logger | undefined;
  #requestId: string | undefined;
  #traceparent: string | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lateCancel = 25;
  #onCancel: (() => void) | undefined;
  #header: Metadata | undefined;
  #sent = false;

  constructor(call: AnyCall, method: MethodInfo, log: Logger, cost: number | undefined) {
    this.method = method;
    this.metadata = call.metadata;
    this.#call = call;
    this.#log = log;
    if (cost !== undefined) this.cost = cost;
    const raw = call.getDeadline();
    const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? Number(raw) : undefined;
    if (deadline !== undefined) {
      this.deadline = deadline;
      // The client cancels at its own deadline, which on this clock comes before ours by however
      // late we read the call (a busy event loop): a cancel in the last quarter of the budget
      // (25 ms to 1 s) is the deadline passing, not the user giving up.
      this.#lateCancel = Math.min(1000, Math.max(25, (deadline - Date.now()) / 4));
    }
  }

  get requestId(): string {
    this.#requestId ??= requestIdFrom(this.metadata);
    return this.#requestId;
  }

  get peer(): string {
    return this.#call.getPeer();
  }

  /**
   * This call's W3C traceparent: set by the tracing middleware when tracing is on; otherwise,
   * on first use, a new span of the caller's trace (or of a new trace when the caller sent
   * none or a malformed one), so logs of one request share a trace_id.
   */
  get traceparent(): string {
    if (this.#traceparent === undefined) {
      const incoming = metadataString(this.metadata, "traceparent");
      this.#traceparent = newTraceparent(incoming ? traceIdOf(incoming) : undefined);
    }
    return this.#traceparent;
  }

  set traceparent(value: string) {
    this.#traceparent = value;
  }

  get log(): Logger {
    this.#child ??= this.#log.child({
      rpc: this.method.path,
      request_id: this.requestId,
      trace_id: traceIdOf(this.traceparent),
    });
    return this.#child;
  }

  set log(l: Logger) {
    this.#child = l;
  }

  /** True when a line at `level` would be written (without making the child logger). */
  logs(level: "debug" | "info"): boolean {
    return (this.#child ?? this.#log).isLevelEnabled(level);
  }

  get aborted(): boolean {
    if (this.#controller) return this.#controller.signal.aborted;
    // As the signal would be at once: aborted when grpc-js saw the cancel (a deadline that
    // passed aborts it from a timer, later).
    return (this.#call as { cancelled?: boolean }).cancelled === true;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController();
      this.#controller = controller;
      // The reasons are the statuses the call ended with: whatever rejects with them (a queued
      // checkout, a stream's drain) is counted and logged as CANCELLED / DEADLINE_EXCEEDED,
      // not as an INTERNAL failure of the service.
      // grpc-js cancels a call whose deadline passed too (the client's timer, or ours a few ms
      // early): that one is DEADLINE_EXCEEDED.
      const ended = () =>
        this.deadline !== undefined && Date.now() >= this.deadline - this.#lateCancel
          ? deadlinePassed()
          : callCancelled();
      this.#onCancel = () => controller.abort(ended());
      this.#call.on("cancelled", this.#onCancel);
      if ((this.#call as { cancelled?: boolean }).cancelled) controller.abort(ended());
      if (this.deadline !== undefined) {
        this.#timer = setTimeout(
          () => controller.abort(deadlinePassed()),
          Math.max(0, this.deadline - Date.now()),
        );
        this.#timer.unref();
      }
    }
    return this.#controller.signal;
  }

  setHeader(name: string, value: string): void {
    const key = name.toLowerCase();
    if (this.#sent) throw new Error(`response header ${key} set after the headers were sent`);
    checkHeader(key, value);
    this.#header ??= new Metadata();
    this.#header.set(key, value); // grpc-js refuses names outside [0-9a-z_.-]
  }

  /** Sends the headers set so far (once); with none set, grpc-js sends its own with the response. */
  sendHeader(): void {
    if (this.#sent) return;
    this.#sent = true;
    if (this.#header) this.#call.sendMetadata(this.#header);
  }

  done(): void {
    if (this.#controller) {
      if (this.#timer) clearTimeout(this.#timer);
      if (this.#onCancel) this.#call.off("cancelled", this.#onCancel);
    }
  }
}

/**
 * The context addService makes for each call (exported for the bench's in-process measure of
 * the per-call path, bench/lib/kit-chain.entry.ts); `done()` releases what the call used.
 */
export function createCallContext(
  call: AnyCall,
  method: MethodInfo,
  log: Logger,
  cost?: number,
): CallContext & { done(): void } {
  return new Call(call, method, log, cost);
}

/** A unary call's answer once its chain completed: the call's resources released, headers, response. */
function answer(ctx: Call, callback: sendUnaryData<unknown>, response: unknown): void {
  ctx.done();
  ctx.sendHeader();
  callback(null, response);
}

export function addService<S extends ServiceDef>(
  server: Server,
  definition: S,
  handlers: Partial<Handlers<S>>,
  { log, middlewares, errorDomain, callScope = true }: AddServiceOptions,
  costs: Costs<S> = {},
): void {
  const composed = compose(middlewares);
  // The call scope: database checkouts made for this call wait within its deadline (db/admission.ts).
  const chain: typeof composed = callScope
    ? (ctx, last) => runInCallScope(ctx, () => composed(ctx, last))
    : composed;
  const impl: UntypedServiceImplementation = {};
  const tolerant: Record<string, MethodDef> = {};
  for (const [key, def] of Object.entries(definition)) {
    tolerant[key] = { ...def, requestDeserialize: tolerantDecoder(def.requestDeserialize) };
    const method = catalogByPath.get(def.path);
    if (!method) throw new Error(`${def.path} is not in the method catalog; run npm run generate`);
    const handler =
      (handlers[key] as ((...args: never[]) => unknown) | undefined) ??
      (() => {
        throw unimplemented(method.method);
      });
    const h = handler as (input: unknown, ctx: CallContext) => unknown;
    const costOf = costs[key] as ((request: unknown) => number) | undefined;
    const cost = (request: unknown) => (costOf && !isUndecodable(request) ? costOf(request) : undefined);
    if (!def.requestStream && !def.responseStream) {
      impl[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const ctx = new Call(call, method, log, cost(call.request));
        let response: unknown;
        // The handler's answer; one given at once (not a promise) costs no promise of its own.
        const last = (): Promise<void> => {
          if (isUndecodable(call.request)) return Promise.reject(malformed());
          let answer: unknown;
          try {
            answer = h(call.request, ctx);
          } catch (err) {
            return Promise.reject(err);
          }
          if (answer instanceof Promise) {
            return answer.then((v) => {
              response = v;
            });
          }
          response = answer;
          return DONE;
        };
        let settled: Promise<void>;
        try {
          settled = chain(ctx, last);
        } catch (err) {
          settled = Promise.reject(err);
        }
        // Completed as dispatched: answered now, without a promise reaction.
        if (settled === DONE) return answer(ctx, callback, response);
        settled.then(
          () => answer(ctx, callback, response),
          (err) => {
            ctx.done();
            callback(toServiceError(err, errorDomain));
          },
        );
      };
    } else if (def.requestStream && !def.responseStream) {
      impl[key] = (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const ctx = new Call(call, method, log, undefined);
        const done = () => ctx.done();
        let response: unknown;
        chain(ctx, async () => {
          response = await h(checked(call), ctx);
        })
          .then(
            () => {
              ctx.sendHeader();
              callback(null, response);
            },
            (err) => callback(toServiceError(err, errorDomain)),
          )
          .finally(done);
      };
    } else if (!def.requestStream && def.responseStream) {
      impl[key] = (call: ServerWritableStream<unknown, unknown>) => {
        const ctx = new Call(call, method, log, cost(call.request));
        const done = () => ctx.done();
        chain(ctx, async () => {
          if (isUndecodable(call.request)) throw malformed();
          let unwritten: Unwritten | undefined; // from the first message with a WRITTEN callback
          for await (const msg of h(call.request, ctx) as AsyncIterable<unknown>) {
            ctx.signal.throwIfAborted(); // counted with the status the call ended with
            ctx.sendHeader();
            const written = (msg as { [WRITTEN]?: () => void } | null)?.[WRITTEN];
            if (written) unwritten ??= new Unwritten(ctx.signal);
            if (!call.write(msg, written && unwritten?.add(written))) {
              await once(call, "drain", { signal: ctx.signal });
            } else if (written) await unwritten?.below(MAX_UNWRITTEN);
          }
        })
          .then(
            () => call.end(),
            (err) => {
              if (!ctx.signal.aborted) call.emit("error", toServiceError(err, errorDomain));
            },
          )
          .finally(done);
      };
    } else {
      throw new Error(`${def.path}: bidirectional streaming is not supported by the kit`);
    }
  }
  server.addService(tolerant as never, impl);
}

/**
 * The messages of one server stream that carry a WRITTEN callback and are not written yet, so
 * the writer can wait until fewer than `n` are in flight; the wait rejects with the call's status
 * once it ends.
 */
class Unwritten {
  #count = 0;
  #wake: (() => void) | undefined;
  #listening = false;
  constructor(private readonly signal: AbortSignal) {}

  /** The write callback of a message with `written`: calls it, then counts the message written. */
  add(written: () => void): () => void {
    this.#count++;
    return () => {
      written();
      this.#count--;
      this.#woken();
    };
  }

  async below(n: number): Promise<void> {
    if (!this.#listening) {
      this.#listening = true;
      this.signal.addEventListener("abort", () => this.#woken(), { once: true });
    }
    while (this.#count >= n) {
      // As a drain waited for: a call that ended rejects with its status (CANCELLED, DEADLINE_EXCEEDED).
      this.signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #woken(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
