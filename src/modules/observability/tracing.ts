import {
  context,
  Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  Link,
  ROOT_CONTEXT,
  SpanContext,
  trace,
  TracerProvider,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { TraceCarrier } from '../contracts/jobs';
import type { Role } from './log';

export type { TraceCarrier };

const propagator = new W3CTraceContextPropagator();

/** Whether the standard OTEL_* variables ask for traces: an OTLP endpoint, or a traces exporter other than none. */
export function tracingConfigured(env: Record<string, string | undefined> = process.env): boolean {
  if (String(env.OTEL_SDK_DISABLED).toLowerCase() === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter) return exporter !== 'none';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

let sdk: NodeSDK | null = null;

/**
 * Starts OpenTelemetry's Node SDK for this process when OTEL_* configure it (exporter, endpoint,
 * headers, sampler, resource: all read by the SDK itself), with no automatic instrumentation: the
 * service makes its own spans. Returns the provider spans are made with, or null when tracing is off.
 */
export function startTracing(role: Role, env: Record<string, string | undefined> = process.env): TracerProvider | null {
  if (!tracingConfigured(env)) return null;
  if (!sdk) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when tracing is on
    const { NodeSDK: Sdk } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
    sdk = new Sdk({ serviceName: env.OTEL_SERVICE_NAME || `analytics-${role}`, instrumentations: [] });
    sdk.start();
  }
  return trace.getTracerProvider();
}

/** Flushes and stops the SDK (on shutdown). */
export async function stopTracing(): Promise<void> {
  const s = sdk;
  sdk = null;
  await s?.shutdown().catch(() => undefined);
}

/** The carrier of the active span's context, with links to the other contexts; none without a sampled span. */
export function carrierFor(parent: SpanContext | undefined, others: SpanContext[]): TraceCarrier | undefined {
  if (!parent) return undefined;
  const headers: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, parent), headers, defaultTextMapSetter);
  if (!headers.traceparent) return undefined;
  const links = others
    .filter((o) => o.spanId !== parent.spanId)
    .map((o) => {
      const h: Record<string, string> = {};
      propagator.inject(trace.setSpanContext(ROOT_CONTEXT, o), h, defaultTextMapSetter);
      return h.traceparent;
    })
    .filter(Boolean);
  return {
    traceparent: headers.traceparent,
    ...(headers.tracestate ? { tracestate: headers.tracestate } : {}),
    ...(links.length ? { links } : {}),
  };
}

/** The context a job's span continues, and links to the other requests it carries. */
export function fromCarrier(carrier: TraceCarrier | undefined): { parent: Context; links: Link[] } {
  if (!carrier || typeof carrier.traceparent !== 'string') return { parent: ROOT_CONTEXT, links: [] };
  const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  const links: Link[] = [];
  for (const tp of Array.isArray(carrier.links) ? carrier.links.slice(0, 128) : []) {
    const ctx = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent: tp }, defaultTextMapGetter));
    if (ctx) links.push({ context: ctx });
  }
  return { parent, links };
}

/** The context of an incoming request's `traceparent`/`tracestate` headers. */
export function fromHeaders(headers: Record<string, string | string[] | undefined>): Context {
  if (!headers.traceparent) return context.active();
  return propagator.extract(context.active(), headers, defaultTextMapGetter);
}
