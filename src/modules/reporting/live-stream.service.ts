import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import Redis from 'ioredis';
import { ProblemException } from '../../common/problem';
import { RedisClient, redisOptions } from '../../common/redis.provider';
import { UUID_PATTERN } from '../../common/validation';
import { AnalyticsConfig } from '../config/analytics-config';
import { decodeLiveMessage, LiveFold, liveChannel, liveStreamKey } from '../contracts/live';
import { Telemetry } from '../observability/telemetry.service';
import { resolveMetric } from '../rollups/metric-catalog';

/** Which buckets a client asked for: catalog metrics (all when null), one site or "*", one source or "*". */
export interface LiveFilter {
  metrics: Set<string> | null;
  site: string;
  source: string;
}

interface LiveClient {
  res: ServerResponse;
  tenant: string;
  filter: LiveFilter;
  /** Id of the last entry written; messages at or before it are not written again. */
  lastId: string | null;
  /** While the history is read for a resume: live messages that arrived meanwhile. */
  held: { id: string; fold: LiveFold }[] | null;
}

/** A stream entry id `<ms>-<seq>` compared as Redis orders them. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

const ENTRY_ID = /^\d{1,15}-\d{1,15}$/;

/**
 * The live stream (GET /api/v1/analytics/reports/live, Server-Sent Events). Every api instance
 * subscribes to the one live channel the worker publishes each fold on (contracts/live.ts), so it
 * serves every tenant; a client sees its tenant's changed minute buckets, filtered to what it
 * named, within a fold round of the event being stored.
 *
 * - Resume: a client sending Last-Event-ID (or `last_event_id`) gets the tenant's history after
 *   that id first, then the live messages; live messages arriving while the history is read are
 *   held and written after it, skipping what the history already gave, so nothing is lost or
 *   doubled. An id the history no longer holds is answered with a `reset` event first.
 * - Heartbeats: a comment line every ANALYTICS_LIVE_HEARTBEAT_MS.
 * - A client that cannot keep up (unsent output past ANALYTICS_LIVE_MAX_BUFFER_KB) is dropped, not
 *   buffered without bound; it reconnects with its Last-Event-ID.
 * - Stream tokens: EventSource cannot send headers, so a report key buys a short-lived token
 *   (ANALYTICS_LIVE_TOKEN_TTL_S), kept in Redis by its hash so that any instance accepts it.
 */
@Injectable()
export class LiveStream implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LiveStream.name);
  private readonly clients = new Map<string, Set<LiveClient>>();
  private subscriber: Redis | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly maxBuffer: number;

  constructor(
    private readonly redis: RedisClient,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
  ) {
    this.maxBuffer = config.live.maxBufferKb * 1024;
  }

  async onModuleInit(): Promise<void> {
    const sub = new Redis({ ...redisOptions(this.config, false), lazyConnect: true });
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, message: string) => this.onFold(message));
    await sub.connect();
    await sub.subscribe(liveChannel(this.redis.prefix));
    this.subscriber = sub;
    this.heartbeat = setInterval(() => this.beat(), this.config.live.heartbeatMs);
    this.heartbeat.unref();
  }

  onModuleDestroy(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.subscriber?.disconnect();
    this.closeAll();
  }

  get count(): number {
    let n = 0;
    for (const set of this.clients.values()) n += set.size;
    return n;
  }

  /** A new stream token for this tenant. */
  async issueToken(tenantId: string): Promise<{ token: string; expires_at: string; tenant_id: string }> {
    const token = `lst_${randomBytes(24).toString('base64url')}`;
    const ttl = this.config.live.tokenTtlS;
    await this.redis.set(this.tokenKey(token), tenantId, 'EX', ttl);
    return { token, expires_at: new Date(Date.now() + ttl * 1000).toISOString(), tenant_id: tenantId };
  }

  /** The tenant a stream token was issued to; 401 when it is unknown or expired. */
  async tenantOfToken(token: string): Promise<string> {
    const tenant = token.length <= 128 ? await this.redis.get(this.tokenKey(token)) : null;
    if (!tenant) {
      throw new ProblemException(
        401,
        'unauthorized',
        'Unauthorized',
        'The stream token is unknown or expired; get a new one with POST /api/v1/analytics/reports/live/token.',
        {},
        { 'WWW-Authenticate': 'Bearer realm="analytics"' },
      );
    }
    return tenant;
  }

  private tokenKey(token: string): string {
    return this.redis.key('live-token', createHash('sha256').update(token).digest('base64url'));
  }

  /** Reads the query's metrics, site_id and source; 400 naming what is wrong. */
  filterOf(query: { metrics?: unknown; site_id?: unknown; source?: unknown }): LiveFilter {
    const bad = (detail: string, pointer: string) =>
      new ProblemException(400, 'invalid-query', 'Invalid query', detail, {
        errors: [{ pointer, keyword: 'format', message: detail }],
      });
    let metrics: Set<string> | null = null;
    if (query.metrics !== undefined && query.metrics !== '') {
      if (typeof query.metrics !== 'string') throw bad('metrics must be one comma-separated list', '/metrics');
      metrics = new Set();
      for (const name of query.metrics.split(',').map((s) => s.trim())) {
        const m = resolveMetric(name);
        if (!m)
          throw bad(
            `Unknown metric ${JSON.stringify(name.slice(0, 80))}; GET /reports/metrics lists them.`,
            '/metrics',
          );
        metrics.add(m.definition.name);
      }
    }
    const site = query.site_id === undefined || query.site_id === '' ? '*' : query.site_id;
    if (site !== '*' && (typeof site !== 'string' || !UUID_PATTERN.test(site)))
      throw bad('site_id must be a UUID', '/site_id');
    const source = query.source === undefined || query.source === '' ? '*' : query.source;
    if (typeof source !== 'string' || source.length > 64)
      throw bad('source must be a string of up to 64 characters', '/source');
    return { metrics, site: site.toLowerCase(), source };
  }

  /** Serves one stream on this response until the client goes, is dropped, or the api stops. */
  async open(res: ServerResponse, tenant: string, filter: LiveFilter, lastEventId: string | null): Promise<void> {
    if (lastEventId !== null && !ENTRY_ID.test(lastEventId)) lastEventId = null;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    const client: LiveClient = { res, tenant, filter, lastId: lastEventId, held: lastEventId ? [] : null };
    let set = this.clients.get(tenant);
    if (!set) this.clients.set(tenant, (set = new Set()));
    set.add(client);
    this.telemetry.metrics.liveStreams.inc();
    res.once('close', () => {
      set.delete(client);
      if (set.size === 0 && this.clients.get(tenant) === set) this.clients.delete(tenant);
      this.telemetry.metrics.liveStreams.dec();
    });
    this.write(client, `retry: 1000\n: stream of tenant ${tenant}\n\n`);
    if (lastEventId) await this.resume(client, lastEventId);
  }

  private async resume(client: LiveClient, after: string): Promise<void> {
    const key = liveStreamKey(this.redis.prefix, client.tenant);
    try {
      const [kept] = await this.redis.xrange(key, after, '+', 'COUNT', 1);
      if (!kept || kept[0] !== after) {
        this.write(
          client,
          `event: reset\ndata: ${JSON.stringify({ reason: 'The history no longer holds Last-Event-ID; read the reports again.' })}\n\n`,
        );
      }
      const entries = await this.redis.xrange(key, `(${after}`, '+', 'COUNT', this.config.live.history);
      for (const [id, fields] of entries) {
        const json = fields[1];
        if (json) this.deliver(client, id, JSON.parse(json) as LiveFold);
      }
    } catch (err) {
      this.logger.warn(`Live history unavailable: ${(err as Error).message}`);
    }
    const held = client.held ?? [];
    client.held = null;
    for (const h of held) this.deliver(client, h.id, h.fold);
  }

  private onFold(message: string): void {
    const m = decodeLiveMessage(message);
    if (!m) return;
    const set = this.clients.get(m.tenant);
    if (!set?.size) return;
    let fold: LiveFold;
    try {
      fold = JSON.parse(m.json) as LiveFold;
    } catch {
      return;
    }
    for (const c of set) {
      if (c.held) c.held.push({ id: m.id, fold });
      else this.deliver(c, m.id, fold);
    }
  }

  private deliver(c: LiveClient, id: string, fold: LiveFold): void {
    if (c.lastId && compareIds(id, c.lastId) <= 0) return;
    c.lastId = id;
    const f = c.filter;
    const buckets = fold.buckets.filter(
      (b) => (!f.metrics || f.metrics.has(b.metric)) && b.site_id === f.site && b.source === f.source,
    );
    this.write(c, `id: ${id}\nevent: fold\ndata: ${JSON.stringify({ ...fold, buckets })}\n\n`);
    this.telemetry.metrics.liveMessages.inc();
  }

  private write(c: LiveClient, text: string): void {
    if (c.res.destroyed) return;
    c.res.write(text);
    if (c.res.writableLength > this.maxBuffer) {
      this.telemetry.metrics.liveDropped.labels('slow').inc();
      this.logger.warn(`Live stream client of tenant ${c.tenant} dropped: ${c.res.writableLength} bytes unsent`);
      c.res.destroy();
    }
  }

  private beat(): void {
    const line = `: heartbeat ${new Date().toISOString()}\n\n`;
    for (const set of this.clients.values()) for (const c of set) this.write(c, line);
  }

  /** Shutdown: ends every stream (clients reconnect, to another instance, with their Last-Event-ID). */
  closeAll(): void {
    for (const set of this.clients.values()) for (const c of set) c.res.end();
  }
}
