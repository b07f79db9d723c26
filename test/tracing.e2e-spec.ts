import { randomBytes } from 'node:crypto';
import { node, resources, tracing } from '@opentelemetry/sdk-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv } from './support/test-env';

/**
 * One ingest request gives one trace whose spans come from both roles: the api's (the request,
 * the admission in Redis, the enqueue) and the worker's (the job, the persist statement, the
 * fold), the W3C trace context travelling in the job's data. Each role has a tracer provider of
 * its own, as two processes would, exporting to one in-memory exporter.
 */
describe('traces from the api to the worker', () => {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = (service: string) =>
    new tracing.BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
    });
  let t: TestEnv;

  beforeAll(async () => {
    // The context manager (AsyncLocalStorage) a process gets from the Node SDK.
    new node.NodeTracerProvider().register();
    t = await createTestEnv(
      {},
      {
        telemetry: {
          api: { tracerProvider: provider('analytics-api') },
          worker: { tracerProvider: provider('analytics-worker') },
        },
      },
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  const service = (s: ReadableSpan) => s.resource.attributes['service.name'];
  const inTrace = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it('continues the caller’s trace through the ingest route, the queue and the worker', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const res = await t.post(EVENTS, makeEvent(), undefined, { traceparent: `00-${traceId}-${callerSpan}-01` });
    expect(res.status).toBe(202);
    const want = [
      'POST /api/v1/analytics/events',
      'ingest.admission',
      'queue.enqueue',
      'job persist-events',
      'storage.persist',
      'rollups.fold',
    ];
    await waitFor('the spans of both roles', () => want.every((n) => byName(inTrace(traceId), n).length > 0), 30000);
    const spans = inTrace(traceId);
    const [server] = byName(spans, 'POST /api/v1/analytics/events');
    const [admission] = byName(spans, 'ingest.admission');
    const [enqueue] = byName(spans, 'queue.enqueue');
    const [job] = byName(spans, 'job persist-events');
    const [persist] = byName(spans, 'storage.persist');
    const fold = byName(spans, 'rollups.fold');
    expect([server, admission, enqueue].map(service)).toEqual(['analytics-api', 'analytics-api', 'analytics-api']);
    expect([job, persist, ...fold].map(service)).toEqual(
      fold.map(() => 'analytics-worker').concat(['analytics-worker', 'analytics-worker']),
    );
    // The parent chain: caller → request → (admission, enqueue) → job → (persist, fold).
    expect(parentOf(server)).toBe(callerSpan);
    expect(parentOf(admission)).toBe(server.spanContext().spanId);
    expect(parentOf(enqueue)).toBe(server.spanContext().spanId);
    expect(parentOf(job)).toBe(enqueue.spanContext().spanId);
    expect(parentOf(persist)).toBe(job.spanContext().spanId);
    expect(parentOf(fold[0])).toBe(job.spanContext().spanId);
    expect(server.attributes).toMatchObject({
      'http.route': EVENTS,
      'http.response.status_code': 202,
      'analytics.lane': 'ingest-route',
    });
    expect(persist.attributes['analytics.events']).toBe(1);
    // No event content in any span.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toMatch(/voice\.turn_id|u_4821|gpt-4o/);
  });

  it('traces a batch through Express too, in a trace of its own', async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId));
    const res = await t.post(`${BATCH}/`, { events: [makeEvent(), makeEvent()] });
    expect(res.status).toBe(202);
    let traceId = '';
    await waitFor(
      'the batch trace',
      () => {
        const server = exporter
          .getFinishedSpans()
          .find((s) => s.name === 'POST /api/v1/analytics/events/batch' && !before.has(s.spanContext().traceId));
        if (!server) return false;
        traceId = server.spanContext().traceId;
        return ['job persist-events', 'storage.persist'].every((n) => byName(inTrace(traceId), n).length > 0);
      },
      30000,
    );
    const spans = inTrace(traceId);
    const [server] = byName(spans, 'POST /api/v1/analytics/events/batch');
    expect(server.attributes['analytics.lane']).toBe('express');
    expect(parentOf(server)).toBeUndefined(); // no traceparent sent: a new trace
    expect(byName(spans, 'storage.persist')[0].attributes['analytics.events']).toBe(2);
    expect(new Set(spans.map(service))).toEqual(new Set(['analytics-api', 'analytics-worker']));
  });

  it('reaches the job of every request of single events grouped together: as its parent or as a link', async () => {
    const ids = Array.from({ length: 5 }, () => randomBytes(16).toString('hex'));
    const answers = await Promise.all(
      ids.map((id) =>
        t.post(EVENTS, makeEvent(), undefined, { traceparent: `00-${id}-${randomBytes(8).toString('hex')}-01` }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    await waitFor(
      'a job span for each request, as parent or link',
      () => {
        const jobs = exporter.getFinishedSpans().filter((s) => s.name === 'job persist-events');
        const reached = new Set(
          jobs.flatMap((j) => [j.spanContext().traceId, ...j.links.map((l) => l.context.traceId)]),
        );
        return ids.every((id) => reached.has(id));
      },
      30000,
    );
  });
});
