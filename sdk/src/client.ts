import createClient, { type Client } from 'openapi-fetch';
import { AnalyticsError, type Problem } from './errors.js';
import { analyticsHelpers, type AnalyticsHelpers } from './helpers.js';
import type { components, paths } from './openapi.js';
import { RetryOptions, retryPolicy } from './retry.js';
import { BatchOptions, batchPolicy, EventDto, IngestSummary, Timers, TrackedVerdict, Tracker } from './tracker.js';
import { type FetchLike, RetryNotice, retryingFetch } from './transport.js';

type Schemas = components['schemas'];
export type EventSource = EventDto['source'];

/**
 * An event to track: what the caller knows. event_id (a random UUID), occurred_at (now), tenant_id,
 * site_id and source (the client's defaults) are filled in when absent.
 */
export type TrackEvent = Omit<EventDto, 'event_id' | 'occurred_at' | 'tenant_id' | 'source' | 'attributes'> &
  Partial<Pick<EventDto, 'event_id' | 'occurred_at' | 'tenant_id' | 'source'>> & {
    attributes?: Record<string, unknown>;
  };

/** A report body whose tenantId may be left to the client's default. */
type WithTenant<T> = T extends { tenantId: string } ? Omit<T, 'tenantId'> & { tenantId?: string } : T;
type FunnelOperation = paths['/api/v1/analytics/reports/funnel']['post'];
type SchemaVersionQuery = NonNullable<paths['/api/v1/analytics/schemas/version']['get']['parameters']['query']>;

export interface AnalyticsClientOptions {
  /** Where the service runs, e.g. https://analytics.example.com */
  baseUrl: string;
  /** An API key (ak_…) or a JWT; sent as a bearer token. */
  apiKey: string;
  /** The tenant of events and reports that name none (the credential's tenant). */
  tenantId?: string;
  /** The site_id of events that name none. */
  siteId?: string;
  /** The source of events that name none (default: web in a browser, server elsewhere). */
  source?: EventSource;
  batch?: BatchOptions;
  retry?: RetryOptions;
  /** Called with every tracked event's verdict: accepted, duplicate, dropped, quarantined or rejected. */
  onVerdict?: (verdict: TrackedVerdict) => void;
  /** Called with every failure: events that could not be delivered, and overflow. */
  onError?: (error: AnalyticsError) => void;
  /** Called before each retry, with why and how long the client waits. */
  onRetry?: (notice: RetryNotice) => void;
  /**
   * Sends what is buffered when the process is about to exit (Node: beforeExit) or the page is
   * hidden (browsers: pagehide and visibilitychange, with fetch keepalive). Default true.
   */
  flushOnExit?: boolean;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: FetchLike;
  /** Seams for tests: randomness of the backoff, sleeping, the clock, ids and the linger timer. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
  randomUUID?: () => string;
  timers?: Timers;
}

/** The client: tracking, reports, schemas and subjects, and the brief's helpers (see helpers.ts). */
export interface AnalyticsClient extends AnalyticsHelpers {
  /** Buffers an event; the promise settles with its verdict (or an AnalyticsError), and may be ignored. */
  track(event: TrackEvent): Promise<TrackedVerdict>;
  /** Sends events at once as one batch (up to 500), bypassing the buffer; one verdict per event. */
  trackBatch(events: TrackEvent[], batchId?: string): Promise<IngestSummary>;
  /** Sends everything buffered and waits for every verdict. */
  flush(): Promise<void>;
  /** Flushes and stops: later events get a `closed` error; the exit hooks are removed. */
  close(): Promise<void>;
  /** Events waiting in the buffer. */
  readonly buffered: number;
  reports: {
    metrics(): Promise<Schemas['MetricDefinitionDto'][]>;
    timeseries(q: WithTenant<Schemas['TimeseriesQueryDto']>): Promise<Schemas['TimeseriesAnswerDto']>;
    summary(q: WithTenant<Schemas['SummaryQueryDto']>): Promise<Schemas['SummaryAnswerDto']>;
    funnel(
      q: WithTenant<FunnelOperation['requestBody']['content']['application/json']>,
    ): Promise<FunnelOperation['responses']['200']['content']['application/json']>;
  };
  schemas: {
    list(): Promise<Schemas['SchemaSummaryDto'][]>;
    get(q: SchemaVersionQuery): Promise<Schemas['SchemaVersionDto']>;
    publish(body: Schemas['PublishSchemaDto']): Promise<Schemas['SchemaVersionDto']>;
  };
  subjects: {
    erase(subject: Schemas['SubjectDto']): Promise<Schemas['ErasureAcceptedDto']>;
    erasure(id: string): Promise<Schemas['ErasureStatusDto']>;
    /** Every stored event of the subject, parsed from the NDJSON export. */
    export(subject: Schemas['SubjectDto']): Promise<Record<string, unknown>[]>;
  };
  /** The typed openapi-fetch client over every operation of openapi.yaml, with the same retries. */
  readonly api: Client<paths>;
}

interface ExitHooks {
  remove(): void;
}

const realTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms) as unknown as { unref?: () => void };
    // A waiting batch never keeps a Node process alive: beforeExit flushes it instead.
    t.unref?.();
    return t;
  },
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of a 2xx answer, or an AnalyticsError carrying the problem of any other. */
function unwrap<T>(what: string, a: Answer<T>): T {
  if (a.response.ok && a.data !== undefined) return a.data;
  const problem = (a.error ?? undefined) as Problem | undefined;
  throw new AnalyticsError(
    'http',
    `${what}: ${a.response.status} ${problem?.detail ?? a.response.statusText ?? ''}`.trim(),
    { status: a.response.status, problem },
  );
}

/** A client of the analytics service: batched, retried event tracking and typed reports. */
export function createAnalyticsClient(options: AnalyticsClientOptions): AnalyticsClient {
  if (!options?.baseUrl) throw new TypeError('createAnalyticsClient: baseUrl is required');
  if (!options.apiKey) throw new TypeError('createAnalyticsClient: apiKey is required');
  const g = globalThis as unknown as BrowserGlobals;
  const inBrowser = typeof g.document !== 'undefined' && typeof g.addEventListener === 'function';
  const policy = retryPolicy(options.retry);
  const baseFetch: FetchLike = options.fetch ?? ((r: Request) => globalThis.fetch(r));
  const seams = {
    random: options.random ?? Math.random,
    sleep: options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    now: () => (options.now ? options.now().getTime() : Date.now()),
  };
  const api = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.apiKey}` },
    fetch: retryingFetch(baseFetch, policy, seams, options.onRetry),
  });
  const uuid = options.randomUUID ?? (() => globalThis.crypto.randomUUID());
  const source: EventSource = options.source ?? (inBrowser ? 'web' : 'server');
  const tenantOf = (t: string | undefined): string => {
    const id = t ?? options.tenantId;
    if (!id) throw new TypeError('No tenantId: give one in the call or in createAnalyticsClient({ tenantId })');
    return id;
  };

  const complete = (e: TrackEvent): EventDto => ({
    ...e,
    event_id: e.event_id ?? uuid(),
    occurred_at: e.occurred_at ?? new Date(seams.now()).toISOString(),
    tenant_id: tenantOf(e.tenant_id),
    source: e.source ?? source,
    ...((e.site_id ?? options.siteId) ? { site_id: e.site_id ?? options.siteId } : {}),
    attributes: e.attributes ?? {},
  });

  const sendBatch = async (events: EventDto[], opts: { keepalive: boolean }, batchId?: string) =>
    unwrap(
      'Sending events',
      await api.POST('/api/v1/analytics/events/batch', {
        body: { events, ...(batchId ? { batch_id: batchId } : {}) },
        ...(opts.keepalive ? { keepalive: true } : {}),
      }),
    );

  const tracker = new Tracker(batchPolicy(options.batch), sendBatch, options.timers ?? realTimers, {
    onVerdict: options.onVerdict,
    onError: options.onError,
  });
  const exit = options.flushOnExit === false ? null : installExitHooks(g, inBrowser, tracker);

  const client: Omit<AnalyticsClient, keyof AnalyticsHelpers> = {
    track: (event) => tracker.add(complete(event)),
    async trackBatch(events, batchId) {
      const summary = await sendBatch(events.map(complete), { keepalive: false }, batchId);
      summary.results.forEach((r, i) =>
        options.onVerdict?.({
          event_id: r.event_id ?? '',
          event_name: events[i]?.event_name ?? '',
          status: r.status,
          ...(r.errors ? { errors: r.errors } : {}),
        }),
      );
      return summary;
    },
    flush: () => tracker.flush(),
    async close() {
      await tracker.close();
      exit?.remove();
    },
    get buffered() {
      return tracker.buffered;
    },
    reports: {
      metrics: async () => unwrap('Reading the metric catalog', await api.GET('/api/v1/analytics/reports/metrics')),
      timeseries: async (q) =>
        unwrap(
          'Reading a timeseries',
          await api.POST('/api/v1/analytics/reports/timeseries', { body: { ...q, tenantId: tenantOf(q.tenantId) } }),
        ),
      summary: async (q) =>
        unwrap(
          'Reading a summary',
          await api.POST('/api/v1/analytics/reports/summary', { body: { ...q, tenantId: tenantOf(q.tenantId) } }),
        ),
      funnel: async (q) =>
        unwrap(
          'Reading a funnel',
          await api.POST('/api/v1/analytics/reports/funnel', {
            body: { ...(q as object), tenantId: tenantOf((q as { tenantId?: string }).tenantId) } as never,
          }),
        ),
    },
    schemas: {
      list: async () => unwrap('Listing schemas', await api.GET('/api/v1/analytics/schemas')),
      get: async (q) =>
        unwrap('Reading a schema', await api.GET('/api/v1/analytics/schemas/version', { params: { query: q } })),
      publish: async (body) => unwrap('Publishing a schema', await api.POST('/api/v1/analytics/schemas', { body })),
    },
    subjects: {
      erase: async (subject) =>
        unwrap('Requesting an erasure', await api.POST('/api/v1/analytics/subjects/erasure', { body: subject })),
      erasure: async (id) =>
        unwrap(
          'Reading an erasure',
          await api.GET('/api/v1/analytics/subjects/erasure/{id}', { params: { path: { id } } }),
        ),
      async export(subject) {
        const text = unwrap(
          'Exporting a subject',
          await api.GET('/api/v1/analytics/subjects/export', { params: { query: subject }, parseAs: 'text' }),
        );
        return text
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      },
    },
    api,
  };
  return Object.assign(client, analyticsHelpers(client, uuid));
}

/** The few browser and Node globals the client looks for; none is imported, so any bundler takes it. */
interface BrowserGlobals {
  document?: {
    visibilityState?: string;
    addEventListener(type: string, fn: () => void): void;
    removeEventListener(type: string, fn: () => void): void;
  };
  addEventListener?(type: string, fn: () => void): void;
  removeEventListener?(type: string, fn: () => void): void;
  process?: { on?(event: string, fn: () => void): void; removeListener?(event: string, fn: () => void): void };
}

function installExitHooks(g: BrowserGlobals, inBrowser: boolean, tracker: Tracker): ExitHooks {
  if (inBrowser) {
    const hide = () => void tracker.flush({ keepalive: true });
    const visibility = () => {
      if (g.document?.visibilityState === 'hidden') hide();
    };
    g.addEventListener!('pagehide', hide);
    g.document!.addEventListener('visibilitychange', visibility);
    return {
      remove() {
        g.removeEventListener?.('pagehide', hide);
        g.document?.removeEventListener('visibilitychange', visibility);
      },
    };
  }
  const proc = g.process;
  if (!proc?.on) return { remove() {} };
  // beforeExit comes when nothing is left to do (the linger timer never holds the process): what is
  // buffered is sent, which gives the loop work again; with the buffer empty the process exits. An
  // explicit process.exit() skips it: call flush() or close() first.
  const onBeforeExit = () => {
    if (tracker.buffered > 0) void tracker.flush();
  };
  proc.on('beforeExit', onBeforeExit);
  return { remove: () => proc.removeListener?.('beforeExit', onBeforeExit) };
}
