// The suite's client: REST through the gateway (and native gRPC for the resumable WriteUpload),
// retrying as the API documents — idempotent methods and writes carrying a request_id are
// retried on UNAVAILABLE, ABORTED, RESOURCE_EXHAUSTED and broken connections, after RetryInfo's
// delay (Retry-After over REST) or a capped exponential backoff. Every attempt is recorded
// with its time and status, so the checker can hold each one against the fault then running.

import { decodeServiceError } from "@filemesh/kit";
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";

export interface Attempt {
  op: string;
  start: number;
  end: number;
  /** HTTP status, or 0 for a broken connection; gRPC calls record 200 for OK. */
  http: number;
  /** gRPC code name (OK, UNAVAILABLE, …) or "CONNECTION" for a broken connection. */
  code: string;
  reason: string;
  retryAfterMs: number;
  /** The last attempt of its call (success or given up). */
  final: boolean;
}

export class Recorder {
  attempts: Attempt[] = [];
  add(a: Attempt) {
    this.attempts.push(a);
  }
}

/** gRPC code names by number (google.rpc.Status.code in a REST error body). */
const CODE_NAMES = Object.fromEntries(
  Object.entries(grpcStatus)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);
export const RETRYABLE = new Set(["UNAVAILABLE", "ABORTED", "RESOURCE_EXHAUSTED", "CONNECTION"]);

export type RetryPolicy = "idempotent" | "never";

export interface RestResult {
  status: number;
  body: any;
  bytes: Buffer;
  headers: Headers;
}

export class GiveUp extends Error {
  constructor(
    readonly op: string,
    readonly last: Attempt,
  ) {
    super(`${op}: gave up after ${last.code}/${last.reason || "-"} (HTTP ${last.http})`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ClientOptions {
  base: string;
  rec: Recorder;
  /** How long one call keeps retrying before it counts as failed. */
  budgetMs?: number;
}

/** The gRPC status a body-less error answer stands for (as the gateway maps them). */
const BODILESS: Record<number, string> = {
  401: "UNAUTHENTICATED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "UNAVAILABLE",
};

export function restClient({ base, rec, budgetMs = 45_000 }: ClientOptions) {
  async function once(op: string, method: string, path: string, init: RequestInit, timeoutMs: number) {
    const start = Date.now();
    try {
      const res = await fetch(`${base}${path}`, { ...init, method, signal: AbortSignal.timeout(timeoutMs) });
      const bytes = Buffer.from(await res.arrayBuffer());
      let body: any;
      const ct = res.headers.get("content-type") ?? "";
      if (ct.includes("json")) {
        try {
          body = JSON.parse(bytes.toString());
        } catch {}
      }
      const ok = res.status >= 200 && res.status < 300;
      // A HEAD (tus) has no body to read the status from: its HTTP status says it.
      const code = ok ? "OK" : (CODE_NAMES[body?.code] ?? BODILESS[res.status] ?? `HTTP_${res.status}`);
      const reason =
        body?.details?.find((d: any) => String(d["@type"]).endsWith("google.rpc.ErrorInfo"))?.reason ??
        res.headers.get("filemesh-error-reason") ??
        "";
      const ra = Number(res.headers.get("retry-after") ?? "0");
      const attempt: Attempt = {
        op,
        start,
        end: Date.now(),
        http: res.status,
        code,
        reason,
        retryAfterMs: Number.isFinite(ra) ? ra * 1000 : 0,
        final: true,
      };
      return { attempt, result: { status: res.status, body, bytes, headers: res.headers } as RestResult };
    } catch (err) {
      const attempt: Attempt = {
        op,
        start,
        end: Date.now(),
        http: 0,
        code: "CONNECTION",
        reason: (err as Error).name === "TimeoutError" ? "CLIENT_TIMEOUT" : String((err as Error).message),
        retryAfterMs: 0,
        final: true,
      };
      return { attempt, result: undefined };
    }
  }

  /**
   * One call, retried under `retry`; resolves with the response (2xx or a non-retryable error),
   * rejects with GiveUp when the budget ran out on retryable failures.
   */
  async function request(
    op: string,
    method: string,
    path: string,
    opts: {
      json?: unknown;
      raw?: Buffer;
      headers?: Record<string, string>;
      retry?: RetryPolicy;
      timeoutMs?: number;
      /**
       * The caller's session: its current access token on every attempt; when the session has
       * ended (401 SESSION_ENDED: sessions live in Redis, so a flush ends them all) the client
       * does what the error says — logs in again — and repeats the call.
       */
      session?: { access: string; relogin(): Promise<void> };
      /**
       * The caller resumes after any failure by its own protocol (a tus PATCH: HEAD, then PATCH
       * from the offset the server has), so no attempt of this call is its final one.
       */
      resumable?: boolean;
    } = {},
  ): Promise<RestResult> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | Buffer | undefined;
    if (opts.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.json);
    } else if (opts.raw) {
      headers["content-type"] ??= "application/octet-stream";
      body = opts.raw;
    }
    const until = Date.now() + budgetMs;
    for (let n = 0; ; n++) {
      if (opts.session) headers.authorization = `Bearer ${opts.session.access}`;
      const { attempt, result } = await once(op, method, path, { headers, body }, opts.timeoutMs ?? 30_000);
      if (opts.session && attempt.reason === "SESSION_ENDED" && Date.now() < until) {
        rec.add({ ...attempt, final: false });
        await opts.session.relogin();
        continue;
      }
      const retryable = RETRYABLE.has(attempt.code) && opts.retry === "idempotent";
      const delay = attempt.retryAfterMs || Math.min(2000, 100 * 1.6 ** n) * (0.8 + Math.random() * 0.4);
      if (!retryable || Date.now() + delay > until) {
        rec.add(opts.resumable ? { ...attempt, final: false } : attempt);
        if (!result || (RETRYABLE.has(attempt.code) && retryable)) throw new GiveUp(op, attempt);
        return result;
      }
      rec.add({ ...attempt, final: false });
      await sleep(delay);
    }
  }
  return { request, base };
}

export type RestClient = ReturnType<typeof restClient>;

/** Records a gRPC attempt (for the resumable WriteUpload, which goes round the REST client). */
export function grpcAttempt(op: string, start: number, err: ServiceError | null, final: boolean): Attempt {
  if (!err) return { op, start, end: Date.now(), http: 200, code: "OK", reason: "", retryAfterMs: 0, final };
  const d = decodeServiceError(err);
  return {
    op,
    start,
    end: Date.now(),
    http: 0,
    code: CODE_NAMES[d.code] ?? String(d.code),
    reason: d.reason,
    retryAfterMs: d.retryAfterMs ?? 0,
    final,
  };
}
