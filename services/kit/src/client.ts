// Outgoing calls: one channel per peer service balanced round-robin over its replicas, every
// call with a deadline (the caller's remaining time, capped by a default) and the request id
// and traceparent forwarded as metadata.
import { readFileSync } from "node:fs";
import { type CallOptions, type Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { PRINCIPAL_HEADER, principalHeader } from "./auth/forwarded.js";
import type { CallContext } from "./grpc/context.js";
import { untangleHttp2Sessions } from "./grpc/http2-sessions.js";

export interface ClientOptions {
  /** host:port of each replica. */
  addrs: readonly string[];
  tls?: { caFile?: string; certFile?: string; keyFile?: string } | undefined;
}

const IP_PORT = /^(\d{1,3}\.){3}\d{1,3}:\d+$/;

/** grpc target for a replica list: ipv4:a,b (local replicas) or dns:///host:port (cluster DNS). */
export function targetFor(addrs: readonly string[]): string {
  if (addrs.length === 0) throw new Error("no addresses");
  if (addrs.every((a) => IP_PORT.test(a))) return `ipv4:${addrs.join(",")}`;
  if (addrs.length > 1) throw new Error("several addresses must be IPv4 host:port");
  return `dns:///${addrs[0]}`;
}

type Ctor<C> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: object,
) => C;

export function createClient<C extends Client>(Ctor: Ctor<C>, opts: ClientOptions): C {
  untangleHttp2Sessions(); // as the server runtime (grpc/http2-sessions.ts)
  const creds = opts.tls
    ? credentials.createSsl(
        opts.tls.caFile ? readFileSync(opts.tls.caFile) : null,
        opts.tls.keyFile ? readFileSync(opts.tls.keyFile) : null,
        opts.tls.certFile ? readFileSync(opts.tls.certFile) : null,
      )
    : credentials.createInsecure();
  return new Ctor(targetFor(opts.addrs), creds, {
    "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    "grpc.keepalive_time_ms": 30_000,
    "grpc.max_receive_message_length": 8 * 1024 * 1024,
  });
}

export interface OutgoingOptions {
  ctx?: Pick<CallContext, "deadline" | "requestId" | "traceparent" | "metadata" | "principal"> | undefined;
  timeoutMs: number;
  /**
   * Forward the caller's `authorization` header (acting on the end user's behalf), and the
   * user's verified principal (`x-filemesh-principal`, auth/forwarded.ts): a receiver that
   * sees this service's identity on the call too (pass it in `metadata`) trusts it without
   * verifying the token again or limiting the user twice.
   */
  forwardAuthorization?: boolean;
  metadata?: Record<string, string>;
}

export function outgoing({ ctx, timeoutMs, forwardAuthorization, metadata: extra }: OutgoingOptions): {
  metadata: Metadata;
  options: CallOptions;
} {
  const metadata = new Metadata();
  if (ctx?.requestId) metadata.set("x-request-id", ctx.requestId);
  if (ctx?.traceparent) metadata.set("traceparent", ctx.traceparent);
  if (forwardAuthorization) {
    const auth = ctx?.metadata.get("authorization")[0];
    if (typeof auth === "string") metadata.set("authorization", auth);
    const principal = ctx?.principal ? principalHeader(ctx.principal) : undefined;
    if (principal) metadata.set(PRINCIPAL_HEADER, principal);
  }
  for (const [k, v] of Object.entries(extra ?? {})) metadata.set(k, v);
  const own = Date.now() + timeoutMs;
  const deadline = ctx?.deadline !== undefined ? Math.min(ctx.deadline, own) : own;
  return { metadata, options: { deadline } };
}

type UnaryFn<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Promisified unary call: `await unary(client, client.login, req, { ctx, timeoutMs })`. */
export function unary<Req, Res>(
  client: Client,
  fn: UnaryFn<Req, Res>,
  req: Req,
  o: OutgoingOptions,
): Promise<Res> {
  const { metadata, options } = outgoing(o);
  return new Promise((resolve, reject) => {
    fn.call(client, req, metadata, options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * A generated client's unary methods as promises, over the same call path as `unary`:
 * `await peers.auth.getAccount({ userId }, { ctx, timeoutMs, metadata })`. `raw` is the
 * grpc-js client (streaming methods, channel state).
 */
export type PromiseClient<C extends Client> = {
  [K in Exclude<keyof C, keyof Client>]: C[K] extends UnaryFn<infer Req, infer Res>
    ? (req: Req, o: OutgoingOptions) => Promise<Res>
    : never;
} & { readonly raw: C; close(): void };

export function promiseClient<C extends Client>(client: C): PromiseClient<C> {
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy({} as PromiseClient<C>, {
    get(_target, prop) {
      if (prop === "raw") return client;
      if (prop === "close") return () => client.close();
      let m = methods.get(prop);
      if (!m) {
        const fn = (client as unknown as Record<PropertyKey, UnaryFn<unknown, unknown>>)[prop];
        if (typeof fn !== "function") return undefined;
        m = (req: unknown, o: OutgoingOptions) => unary(client, fn, req, o);
        methods.set(prop, m);
      }
      return m;
    },
  });
}

/** `createClient` wrapped by `promiseClient`: the usual way to make a peer. */
export function createPeer<C extends Client>(Ctor: Ctor<C>, opts: ClientOptions): PromiseClient<C> {
  return promiseClient(createClient(Ctor, opts));
}
