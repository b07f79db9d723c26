import { context, Span, SpanStatusCode, trace, Tracer } from '@opentelemetry/api';
import { LogAttributes } from '@opentelemetry/api-logs';
import { ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * An application instrumented with the OpenTelemetry JS SDK, as a script: its own TracerProvider
 * and LoggerProvider (never a global one), spans and log records built as a job describes, and
 * each batch exported through the SDK's OTLP/HTTP exporter (JSON, or protobuf with gzip) as many
 * times as asked (an exporter's retry sends the same batch again). The integration tests run it as a
 * child process (the exporters load node:http with a dynamic import, which jest's module sandbox
 * refuses); the OTLP benchmark calls runExportJob in its own process.
 *
 * Reads the job as JSON on stdin, prints the answer as JSON on stdout.
 */
export type Encoding = 'json' | 'protobuf';

export interface SpanNode {
  name: string;
  /** Start and end, ms since the epoch. */
  start: number;
  end: number;
  attributes?: Record<string, string | number | boolean | string[]>;
  error?: boolean;
  /** The answer's spanIds names this span's id by this key. */
  key?: string;
  children?: SpanNode[];
}

export interface LogSpec {
  eventName?: string;
  timestamp: number;
  attributes?: LogAttributes;
  body?: string;
}

export interface ExportJob {
  /** The api's base URL. */
  url: string;
  key: string;
  encoding: Encoding;
  /** Under /api/v1/analytics/otlp (else the exporters' default /v1/...). */
  longPath?: boolean;
  resource?: Record<string, string>;
  /** Batches of span trees, or batches of log records. */
  traces?: SpanNode[][];
  logs?: LogSpec[][];
  /** How many times each batch is sent (default 1). */
  sends?: number;
}

export interface ExportAnswer {
  results: { code: number; error?: string }[];
  spanIds: Record<string, string>;
}

export const DEFAULT_RESOURCE = { 'service.name': 'voice-bot', 'deployment.environment.name': 'test' };

function endpoint(job: ExportJob, signal: 'traces' | 'logs'): string {
  return `${job.url}${job.longPath ? '/api/v1/analytics/otlp' : ''}/v1/${signal}`;
}

function build(tracer: Tracer, node: SpanNode, ids: Record<string, string>, parent?: Span): void {
  const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
  const span = tracer.startSpan(node.name, { startTime: node.start, attributes: node.attributes }, ctx);
  if (node.key) ids[node.key] = span.spanContext().spanId;
  for (const c of node.children ?? []) build(tracer, c, ids, span);
  if (node.error) span.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  span.end(node.end);
}

function exportOnce<T>(exporter: { export(items: T[], done: (r: ExportResult) => void): void }, items: T[]) {
  return new Promise<{ code: number; error?: string }>((resolve) =>
    exporter.export(items, (r) => resolve({ code: r.code, ...(r.error ? { error: String(r.error.message) } : {}) })),
  );
}

export async function runExportJob(job: ExportJob): Promise<ExportAnswer> {
  const resource = resourceFromAttributes(job.resource ?? DEFAULT_RESOURCE);
  const headers = { authorization: `Bearer ${job.key}` };
  const sends = job.sends ?? 1;
  const answer: ExportAnswer = { results: [], spanIds: {} };
  if (job.traces) {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memory)] });
    const tracer = provider.getTracer('otel-client');
    const exporter =
      job.encoding === 'json'
        ? new JsonTraceExporter({ url: endpoint(job, 'traces'), headers })
        : new ProtoTraceExporter({ url: endpoint(job, 'traces'), headers, compression: CompressionAlgorithm.GZIP });
    for (const batch of job.traces) {
      memory.reset();
      for (const root of batch) build(tracer, root, answer.spanIds);
      const spans = memory.getFinishedSpans();
      for (let i = 0; i < sends; i++) answer.results.push(await exportOnce(exporter, spans));
    }
    await exporter.shutdown();
    await provider.shutdown();
  }
  if (job.logs) {
    const memory = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
    const logger = provider.getLogger('otel-client');
    const exporter =
      job.encoding === 'json'
        ? new JsonLogExporter({ url: endpoint(job, 'logs'), headers, compression: CompressionAlgorithm.GZIP })
        : new ProtoLogExporter({ url: endpoint(job, 'logs'), headers });
    for (const batch of job.logs) {
      memory.reset();
      for (const r of batch) logger.emit(r);
      const records = memory.getFinishedLogRecords();
      for (let i = 0; i < sends; i++) answer.results.push(await exportOnce(exporter, records));
    }
    await exporter.shutdown();
    await provider.shutdown();
  }
  return answer;
}

if (require.main === module) {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c: string) => (input += c));
  process.stdin.on('end', () => {
    runExportJob(JSON.parse(input) as ExportJob).then(
      (a) => process.stdout.write(JSON.stringify(a)),
      (err: Error) => {
        process.stderr.write(`${err.stack ?? err.message}\n`);
        process.exit(1);
      },
    );
  });
}
