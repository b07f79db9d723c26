import { Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { Principal } from '../auth/principal';
import { assertTenantAccess } from '../auth/auth.decorators';
import { AnalyticsConfig } from '../config/analytics-config';
import { DDSketch, SketchData } from '../rollups/ddsketch';
import { METRICS, QUANTILES, metricNames, resolveMetric } from '../rollups/metric-catalog';
import { ALL_SITES, ALL_SOURCES } from '../rollups/rollup-fold';
import { RollupRepository } from '../rollups/rollup.repository';
import { EVENT_SOURCES } from '../schema-registry/envelope.schema';
import { EventsRepository } from '../storage/events.repository';
import { Cell, cellsFromEvents, emptyCell, mergeCell, valueOf } from './metric-values';
import { planTimeseries } from './timeseries-plan';

export interface TimeseriesAnswer {
  metric: string;
  grain: string;
  points: { t: string; value: number | null; count: number }[];
  meta: { level: 'm' | 'h' | 'd' | 'raw'; buckets: number; query_ms: number; empty_value: 0 | null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const invalid = (detail: string) => new ProblemException(400, 'invalid-report', 'Invalid report request', detail);

/** Timeseries over the rollups (or raw events where rollups cannot answer exactly). */
@Injectable()
export class ReportingService {
  constructor(
    private readonly rollups: RollupRepository,
    private readonly events: EventsRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  catalog() {
    return METRICS.map((m) => ({
      name: m.name, aggregation: m.aggregation, unit: m.unit, description: m.description,
      names: m.aggregation === 'percentile' ? Object.keys(QUANTILES).map((q) => `${m.name}.${q}`) : [m.name],
      ...(m.listed ? { listed: m.listed.map((q) => `${m.name}.${q}`) } : {}),
    }));
  }

  async timeseries(body: unknown, principal: Principal): Promise<TimeseriesAnswer> {
    const started = performance.now();
    const q = this.read(body);
    assertTenantAccess(principal, q.tenantId);
    const metric = resolveMetric(q.metric)!;
    const def = metric.definition;
    const plan = planTimeseries(q.from, q.to, q.grain, this.config.reporting.maxTimeseriesPoints, def.aggregation === 'distinct_rate');
    if ('error' in plan) throw invalid(plan.error);
    const end = plan.buckets[plan.buckets.length - 1] + plan.grainMs;
    const timeout = this.config.reporting.defaultTimeoutMs;

    let cells: Cell[];
    let level: TimeseriesAnswer['meta']['level'] = plan.level;
    try {
      if (this.config.rollups.enabled && plan.exactFromRollups) {
        const rows = await this.rollups.read({ tenantId: q.tenantId, metric: def.name, level: plan.level, siteId: q.siteId ?? ALL_SITES, source: q.source ?? ALL_SOURCES, from: new Date(plan.buckets[0]), to: new Date(end) }, timeout);
        cells = plan.buckets.map(emptyCell);
        for (const r of rows) {
          const i = Math.floor((r.bucket.getTime() - plan.buckets[0]) / plan.grainMs);
          mergeCell(cells[i], { count: Number(r.count), num: Number(r.num), sum: r.sum, min: r.min, max: r.max, sketch: r.sketch ? DDSketch.from(r.sketch as SketchData) : null });
        }
      } else {
        level = 'raw';
        const names = [def.of.event, def.numerator?.event].filter((n): n is string => !!n);
        const rows = await this.events.forReport({ tenantId: q.tenantId, eventNames: names.includes('*') ? null : [...new Set(names)], siteId: q.siteId, source: q.source, from: new Date(plan.buckets[0]), to: new Date(end) }, timeout);
        cells = cellsFromEvents(metric, rows, plan.buckets, plan.grainMs);
      }
    } catch (err) {
      if ((err as { code?: string }).code === '57014') {
        throw new ProblemException(504, 'report-timeout', 'Report timed out',
          `The query ran past ${timeout} ms (ANALYTICS_REPORT_TIMEOUT_MS) and was cancelled in Postgres. Choose a shorter range or a coarser grain.`);
      }
      throw err;
    }
    const zero = def.aggregation === 'count' || def.aggregation === 'sum';
    return {
      metric: q.metric,
      grain: q.grain,
      points: plan.buckets.map((b, i) => ({ t: new Date(b).toISOString(), value: valueOf(metric, cells[i]), count: cells[i].count })),
      meta: { level, buckets: plan.buckets.length, query_ms: Math.round((performance.now() - started) * 10) / 10, empty_value: zero ? 0 : null },
    };
  }

  private read(body: unknown) {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('The body must be a JSON object {tenantId, metric, from, to, grain}.');
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !['tenantId', 'metric', 'from', 'to', 'grain', 'site_id', 'source'].includes(k));
    if (unknown.length) throw invalid(`Unknown field(s): ${unknown.slice(0, 5).join(', ')}.`);
    if (typeof b.tenantId !== 'string' || !UUID.test(b.tenantId)) throw invalid('tenantId must be the tenant UUID.');
    if (typeof b.metric !== 'string' || !resolveMetric(b.metric)) {
      throw invalid(`metric must be one of the catalog (GET /api/v1/analytics/reports/metrics), e.g. ${metricNames().slice(0, 3).join(', ')}; got ${JSON.stringify(String(b.metric).slice(0, 80))}.`);
    }
    const from = typeof b.from === 'string' ? Date.parse(b.from) : NaN;
    const to = typeof b.to === 'string' ? Date.parse(b.to) : NaN;
    if (Number.isNaN(from) || Number.isNaN(to)) throw invalid('from and to must be RFC 3339 date-times.');
    if (typeof b.grain !== 'string') throw invalid('grain must be one of 1m, 5m, 15m, 1h, 1d.');
    if (b.site_id !== undefined && (typeof b.site_id !== 'string' || !UUID.test(b.site_id))) throw invalid('site_id must be a UUID.');
    if (b.source !== undefined && !(EVENT_SOURCES as readonly unknown[]).includes(b.source)) throw invalid(`source must be one of ${EVENT_SOURCES.join(', ')}.`);
    return {
      tenantId: b.tenantId.toLowerCase(), metric: b.metric, from, to, grain: b.grain,
      siteId: (b.site_id as string | undefined)?.toLowerCase() ?? null, source: (b.source as string | undefined) ?? null,
    };
  }
}
