import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { context, Span, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { ExportAnswer, ExportJob } from '../load/otel-client';

export type { Encoding, ExportAnswer, ExportJob, LogSpec, SpanNode } from '../load/otel-client';
export { DEFAULT_RESOURCE } from '../load/otel-client';

const CLIENT = join(__dirname, '..', '..', 'dist', 'test', 'load', 'otel-client.js');

/**
 * Runs an export job in an application process of its own: the SDK's TracerProvider or
 * LoggerProvider and its OTLP/HTTP exporter (see test/load/otel-client.ts), against the test api.
 */
export function exportWithSdk(job: ExportJob): Promise<ExportAnswer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the SDK client exited with ${code}: ${err}`));
      resolve(JSON.parse(out) as ExportAnswer);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** In this process, the SDK's spans for serializing by hand (otlp-transformer): a provider of the test's own. */
export function spanRecorder(resource: Record<string, string> = { 'service.name': 'voice-bot' }) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  return {
    tracer: provider.getTracer('otlp-ingestion-test'),
    spans: (): ReadableSpan[] => memory.getFinishedSpans(),
    close: () => provider.shutdown(),
  };
}

export function finished(
  tracer: Tracer,
  s: { name: string; start: number; end: number; attributes?: Record<string, string | number | boolean> },
  parent?: Span,
  error = false,
): Span {
  const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
  const span = tracer.startSpan(s.name, { startTime: s.start, attributes: s.attributes }, ctx);
  if (error) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end(s.end);
  return span;
}
