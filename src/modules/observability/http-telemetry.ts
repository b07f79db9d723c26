import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Logger as Pino } from 'pino';
import { AnalyticsConfig } from '../config/analytics-config';
import { checkedLineWriter } from './log';
import { ROOT_LOGGER } from './observability.tokens';
import { ingestRouteOf, Lane, tenantOf } from './request-tags';
import { Telemetry, withSpan } from './telemetry.service';
import { fromHeaders } from './tracing';

/** A client's X-Request-Id is kept when it is a short token with no long run of digits (which could be a phone or card number). */
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const LONG_DIGITS = /\d{7}/;

/**
 * Requests of both lanes, in front of the ingest route and Express: the request id (an incoming
 * X-Request-Id kept, else a new one, returned on the answer), one log line per request (request
 * id, tenant, route, status, duration), the HTTP metrics, and the server span continuing the
 * caller's W3C trace context.
 *
 * Written on node:http rather than with pino-http, which builds child loggers for every request:
 * this writes one line from the fields it has. Nest's own lines inside a request do not carry the
 * request id: binding it through AsyncLocalStorage (nestjs-pino's store) multiplied the CPU this
 * observer costs per request several times over in `npm run bench:telemetry`.
 */
@Injectable()
export class HttpTelemetry {
  private readonly children = new Map<string, { requests: { inc(): void }; duration: { observe(v: number): void } }>();
  private readonly requestLine: ReturnType<typeof checkedLineWriter>;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(ROOT_LOGGER) root: Pino,
    private readonly telemetry: Telemetry,
  ) {
    this.requestLine = checkedLineWriter(root, 'request');
  }

  /** Whether anything is observed per request (metrics, request logs or traces). */
  get active(): boolean {
    const t = this.config.telemetry;
    return t.metricsEnabled || t.requestLogs || this.telemetry.tracing;
  }

  /** Puts the request observer in front of the server's request listeners. */
  install(server: Server): void {
    if (!this.active) return;
    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.observe(req, res, listeners));
  }

  private observe(req: IncomingMessage, res: ServerResponse, listeners: RequestListener[]): void {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId =
      typeof incoming === 'string' && CLIENT_ID.test(incoming) && !LONG_DIGITS.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const span = this.telemetry.tracing
      ? this.telemetry.startServerSpan(req.method ?? 'HTTP', fromHeaders(req.headers))
      : null;
    res.once('close', () => {
      const seconds = (performance.now() - started) / 1000;
      const tagged = ingestRouteOf(req);
      const lane: Lane = tagged ? 'ingest-route' : 'express';
      const route = tagged?.route ?? expressRoute(req);
      const method = req.method ?? 'OTHER';
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      if (this.config.telemetry.metricsEnabled) this.count(lane, method, route, status, seconds);
      if (this.config.telemetry.requestLogs) {
        this.requestLine({
          request_id: requestId,
          trace_id: span?.spanContext().traceId,
          tenant_id: tenantOf(req),
          lane,
          method,
          route,
          status: res.writableFinished ? res.statusCode : 'aborted',
          duration_ms: Math.round(seconds * 10000) / 10,
        });
      }
      if (span) {
        span.updateName(`${method} ${route}`);
        span.setAttributes({
          'http.request.method': method,
          'http.route': route,
          'http.response.status_code': res.statusCode,
          'analytics.lane': lane,
        });
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
    const run = () => {
      for (const listener of listeners) listener(req, res);
    };
    if (span) withSpan(span, run);
    else run();
  }

  private count(lane: Lane, method: string, route: string, status: string, seconds: number): void {
    const key = `${lane} ${method} ${route} ${status}`;
    let c = this.children.get(key);
    if (!c) {
      const m = this.telemetry.metrics;
      c = {
        requests: m.httpRequests.labels(lane, method, route, status),
        duration: m.httpDuration.labels(lane, method, route),
      };
      if (this.children.size < 2000) this.children.set(key, c);
    }
    c.requests.inc();
    c.duration.observe(seconds);
  }
}

/** The route template Express matched (`/api/v1/analytics/schemas/:name`), or a bounded stand-in. */
function expressRoute(req: IncomingMessage): string {
  const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: string };
  if (r.route && typeof r.route.path === 'string') return `${r.baseUrl ?? ''}${r.route.path}`;
  const url = req.url ?? '';
  if (url.startsWith('/admin/queues')) return '/admin/queues/*';
  if (url.startsWith('/api/docs')) return '/api/docs/*';
  return 'unmatched';
}
