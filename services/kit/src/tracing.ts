// OpenTelemetry tracing with W3C traceparent carried in gRPC metadata. The exporter is off
// unless an OTLP endpoint is configured; without it, traceparent is still propagated (a new
// one is started when the caller sent none) so logs of one request share a trace_id.
import {
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { metadataString } from "./grpc/context.js";
import type { Middleware } from "./grpc/middleware.js";
import { newTraceparent, TRACEPARENT, traceIdOf } from "./trace-id.js";

export { newTraceparent, traceIdOf } from "./trace-id.js";

import { codeName, codeOf } from "./metrics.js";

export interface Tracing {
  tracer?: Tracer;
  shutdown(): Promise<void>;
}

export function initTracing(service: string, otlpEndpoint: string | undefined): Tracing {
  if (!otlpEndpoint) return { shutdown: async () => {} };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlpEndpoint}/v1/traces` }))],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { tracer: provider.getTracer("filemesh"), shutdown: () => provider.shutdown() };
}

/**
 * Spans per call when a tracer is configured. Without one the runtime leaves this middleware
 * out: the call context derives its traceparent on first use (grpc/service.ts), so a call
 * that never logs or calls out costs nothing for tracing.
 */
export function tracingMiddleware(tracer: Tracer | undefined): Middleware {
  return async (ctx, next) => {
    const given = metadataString(ctx.metadata, "traceparent");
    const incoming = given && TRACEPARENT.test(given) ? given : undefined;
    if (!tracer) {
      ctx.traceparent = incoming ? newTraceparent(traceIdOf(incoming)) : newTraceparent();
      return next();
    }
    const parent = propagation.extract(context.active(), incoming ? { traceparent: incoming } : {});
    await tracer.startActiveSpan(
      ctx.method.path.slice(1),
      { kind: SpanKind.SERVER },
      parent,
      async (span: Span) => {
        const carrier: Record<string, string> = {};
        propagation.inject(trace.setSpan(context.active(), span), carrier);
        if (carrier.traceparent) ctx.traceparent = carrier.traceparent;
        ctx.log = ctx.log.child({ trace_id: span.spanContext().traceId });
        span.setAttributes({
          "rpc.system": "grpc",
          "rpc.service": ctx.method.service,
          "rpc.method": ctx.method.method,
        });
        try {
          await next();
          span.setAttribute("rpc.grpc.status_code", 0);
        } catch (err) {
          span.setAttribute("rpc.grpc.status_code", codeOf(err));
          span.setStatus({ code: SpanStatusCode.ERROR, message: codeName(codeOf(err)) });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  };
}
