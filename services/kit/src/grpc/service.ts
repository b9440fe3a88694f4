// Registers a generated grpc-js service with plain async handlers (nice-grpc style):
//   unary          (request, ctx) => Promise<response>
//   client stream  (requests: AsyncIterable, ctx) => Promise<response>
//   server stream  (request, ctx) => AsyncIterable<response>
// Every call runs through the middleware chain; errors become google.rpc.Status details.
// Response headers set with ctx.setHeader go out with the first message (or the response).
// Methods without a handler answer UNIMPLEMENTED with reason NOT_IMPLEMENTED.
import { once } from "node:events";
import { type MethodInfo, methodCatalog } from "@filemesh/contracts";
import type {
  Metadata,
  Server,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { runInCallScope } from "../db/admission.js";
import { invalidArgument, toServiceError, unimplemented } from "../errors.js";
import type { Logger } from "../logger.js";
import { traceIdOf } from "../trace-id.js";
import { type CallContext, metadataString, requestIdFrom } from "./context.js";
import { compose, type Middleware } from "./middleware.js";
import { responseHeader } from "./response-header.js";

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
      ? (request: Req<M>, ctx: CallContext) => Promise<Res<M>>
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
}

interface AnyCall {
  readonly metadata: ServerUnaryCall<unknown, unknown>["metadata"];
  getDeadline: ServerUnaryCall<unknown, unknown>["getDeadline"];
  getPeer(): string;
  sendMetadata(md: Metadata): void;
  on(event: "cancelled", listener: () => void): unknown;
  off(event: "cancelled", listener: () => void): unknown;
}

function contextFor(
  call: AnyCall,
  method: MethodInfo,
  log: Logger,
  cost?: number,
): { ctx: CallContext; done: () => void } {
  const controller = new AbortController();
  const onCancel = () => controller.abort(new Error("cancelled"));
  call.on("cancelled", onCancel);
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : Number.isFinite(raw) ? Number(raw) : undefined;
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    timer = setTimeout(
      () => controller.abort(new Error("deadline exceeded")),
      Math.max(0, deadline - Date.now()),
    );
    timer.unref();
  }
  const requestId = requestIdFrom(call.metadata);
  const traceparent = metadataString(call.metadata, "traceparent");
  const header = responseHeader((md) => call.sendMetadata(md));
  const ctx = {
    method,
    requestId,
    metadata: call.metadata,
    signal: controller.signal,
    peer: call.getPeer(),
    setHeader: header.set,
    sendHeader: header.send,
    ...(cost !== undefined ? { cost } : {}),
    ...(traceparent ? { traceparent } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
  } as CallContext;
  // The per-call child logger is made on first use (most successful calls never log), with
  // the trace id of the call as it is then (the tracing middleware runs first).
  let child: Logger | undefined;
  Object.defineProperty(ctx, "log", {
    enumerable: true,
    get: () => {
      child ??= log.child({ rpc: method.path, request_id: requestId, trace_id: traceIdOf(ctx.traceparent) });
      return child;
    },
    set: (l: Logger) => {
      child = l;
    },
  });
  return {
    ctx,
    done: () => {
      if (timer) clearTimeout(timer);
      call.off("cancelled", onCancel);
    },
  };
}

export function addService<S extends ServiceDef>(
  server: Server,
  definition: S,
  handlers: Partial<Handlers<S>>,
  { log, middlewares, errorDomain }: AddServiceOptions,
  costs: Costs<S> = {},
): void {
  const composed = compose(middlewares);
  // The call scope: database checkouts made for this call wait within its deadline (db/admission.ts).
  const chain: typeof composed = (ctx, last) => runInCallScope(ctx, () => composed(ctx, last));
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
        const { ctx, done } = contextFor(call, method, log, cost(call.request));
        let response: unknown;
        chain(ctx, async () => {
          if (isUndecodable(call.request)) throw malformed();
          response = await h(call.request, ctx);
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
    } else if (def.requestStream && !def.responseStream) {
      impl[key] = (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        const { ctx, done } = contextFor(call, method, log);
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
        const { ctx, done } = contextFor(call, method, log, cost(call.request));
        chain(ctx, async () => {
          if (isUndecodable(call.request)) throw malformed();
          for await (const msg of h(call.request, ctx) as AsyncIterable<unknown>) {
            if (ctx.signal.aborted) return;
            ctx.sendHeader();
            if (!call.write(msg)) await once(call, "drain", { signal: ctx.signal });
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
