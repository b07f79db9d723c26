import { Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { isClickHouseTimeout } from '../../database/clickhouse';
import { isPoolTimeout, isStatementCancelled } from '../../database/timed-query';
import { Clock } from '../../common/clock';
import { Principal } from '../auth/principal';
import { TenantAccess } from '../auth/tenant-access';
import { AnalyticsConfig } from '../config/analytics-config';
import { DDSketch } from '../rollups/ddsketch';
import { METRICS, QUANTILES, resolveMetric, WATERFALL_STAGES } from '../rollups/metric-catalog';
import { ALL_SITES, ALL_SOURCES } from '../rollups/rollup-fold';
import { EventStore } from '../storage/event-store';
import { FunnelEventRow } from '../storage/events.repository';
import { CostRepository, MoneyRow } from '../costs/cost.repository';
import { trimDecimal } from '../costs/usage-lines';
import { CostAnswerDto, CostQueryDto } from './dto/cost.dto';
import { ConversationAnswerDto, ConversationQueryDto } from './dto/conversation.dto';
import { CONVERSATION_EVENTS, conversationTurns, NO_MONEY } from './conversation-view';
import { Cell, cellsFromEvents, emptyCell, mergeCell, valueOf } from './metric-values';
import { planTimeseries } from './timeseries-plan';
import { SummaryQueryDto, TimeseriesQueryDto } from './dto/report.dto';
import { WaterfallAnswerDto, WaterfallQueryDto } from './dto/waterfall.dto';
import { Chain, walkUnit, WalkEvent } from './funnel';
import { CONVERSION_GRAINS, invalidFunnel, parseFunnelRequest } from './funnel-request';
import { attributeKeys, compileMatcher, eventNames } from './funnel-match';
import {
  BreakdownGroup,
  breakdownGroups,
  ConversionPoint,
  conversionSeries,
  defaultBinsMs,
  FunnelStepAnswer,
  FunnelTally,
  previousRequiredSteps,
} from './funnel-summary';
import { checkRangeDays, invalidReport, reportRange } from './report-bounds';
import { ReportDeadline } from './report-deadline';
import { ReportSlots } from './report-slots';

/** Nest token of the clock report deadlines read (the system clock; tests pin or advance it). */
export const REPORT_CLOCK = Symbol('ReportClock');

/** The funnel's matching checks its deadline, and lets other work (ingestion) run, this often. */
const CHECK_EVERY_UNITS = 100;
const CHECK_EVERY_EVENTS = 10_000;

export interface TimeseriesAnswer {
  metric: string;
  grain: string;
  points: { t: string; value: number | null; count: number }[];
  meta: { level: 'm' | 'h' | 'd' | 'raw' | 'usage'; buckets: number; query_ms: number; empty_value: 0 | null };
}

const invalid = invalidReport;

export interface FunnelAnswer {
  steps: FunnelStepAnswer[];
  breakdown?: { properties: string[]; limit: number; values_total: number; groups: BreakdownGroup[] };
  conversion_over_time?: { grain: string; points: ConversionPoint[] };
  meta: {
    units: number;
    window_seconds: number;
    unit: string;
    order: string;
    bins_ms: number[];
    query_ms: number;
  };
}

/**
 * A statement Postgres cancelled at the report's deadline is a 504 naming the deadline; no pooled
 * connection free in time is a 503 to retry; anything else is rethrown.
 */
function reportError(err: unknown, deadline: ReportDeadline, hint: string): unknown {
  if (isStatementCancelled(err)) return deadline.expired('and was cancelled in Postgres', hint);
  if (isClickHouseTimeout(err)) return deadline.expired('and was cancelled in ClickHouse', hint);
  if (isPoolTimeout(err)) {
    return new ProblemException(
      503,
      'reports-unavailable',
      'Database busy',
      'No database connection was free for this report in time. Retry in a moment.',
      {},
      { 'Retry-After': '1' },
    );
  }
  return err;
}

const tooManyEvents = (max: number, what: string) =>
  invalid(
    `The ${what} would read more than ${max} events (ANALYTICS_REPORT_MAX_EVENTS); narrow the range${what === 'funnel' ? '' : ' or filter by site_id or source'}.`,
  );

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timeseries over the rollups (or raw events where rollups cannot answer exactly). */
@Injectable()
export class ReportingService {
  constructor(
    private readonly events: EventStore,
    private readonly costs: CostRepository,
    private readonly access: TenantAccess,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly slots: ReportSlots,
    @Inject(REPORT_CLOCK) private readonly clock: Clock,
  ) {}

  /** A report's deadline, from now: ANALYTICS_REPORT_TIMEOUT_MS for its queries and the work after them. */
  private deadline(): ReportDeadline {
    return new ReportDeadline(this.clock, this.config.reporting.defaultTimeoutMs);
  }

  catalog() {
    return METRICS.map((m) => ({
      name: m.name,
      aggregation: m.aggregation,
      unit: m.unit,
      description: m.description,
      names: m.aggregation === 'percentile' ? Object.keys(QUANTILES).map((q) => `${m.name}.${q}`) : [m.name],
      ...(m.listed ? { listed: m.listed.map((q) => `${m.name}.${q}`) } : {}),
    }));
  }

  async timeseries(body: TimeseriesQueryDto, principal: Principal): Promise<TimeseriesAnswer> {
    const started = performance.now();
    const q = this.read(body);
    const metric = resolveMetric(q.metric)!;
    const plan = planTimeseries(
      q.from,
      q.to,
      q.grain,
      this.config.reporting.maxTimeseriesPoints,
      metric.definition.aggregation === 'distinct_rate',
    );
    if ('error' in plan) throw invalid(plan.error);
    checkRangeDays(q.from, q.to, this.config.reporting.maxRangeDays, 'ANALYTICS_REPORT_MAX_RANGE_DAYS', 'A timeseries');
    q.tenantId = await this.access.resolve(principal, q.tenantId);
    const { cells, level } = await this.slots.run(q.tenantId, () =>
      this.load(
        q,
        metric,
        plan.buckets,
        plan.grainMs,
        plan.level,
        this.config.rollups.enabled && plan.exactFromRollups,
        this.deadline(),
      ),
    );
    const agg = metric.definition.aggregation;
    return {
      metric: q.metric,
      grain: q.grain,
      points: plan.buckets.map((b, i) => ({
        t: new Date(b).toISOString(),
        value: valueOf(metric, cells[i]),
        count: cells[i].count,
      })),
      meta: {
        level,
        buckets: plan.buckets.length,
        query_ms: round(performance.now() - started),
        empty_value: agg === 'count' || agg === 'sum' || metric.definition.cost === 'total' ? 0 : null,
      },
    };
  }

  /**
   * Several metrics over one range in one call (a dashboard's first paint), each exact for the whole
   * range: rollup cells merged (sketches too), and distinct rates that span several rollup buckets
   * counted from raw events as one bucket.
   */
  async summary(
    body: SummaryQueryDto,
    principal: Principal,
  ): Promise<{
    from: string;
    to: string;
    metrics: Record<string, { value: number | null; count: number }>;
    meta: { query_ms: number };
  }> {
    const started = performance.now();
    const { metrics, ...rest } = body;
    // Every metric is read and planned, and the range checked, before the first query runs.
    const plans = metrics.map((name) => this.wholeRangePlan({ ...rest, metric: name, grain: '1h' }, 'A summary'));
    const tenantId = await this.access.resolve(principal, plans[0].q.tenantId);
    const out: Record<string, { value: number | null; count: number }> = {};
    let covered = { from: 0, to: 0 };
    await this.slots.run(tenantId, async () => {
      const deadline = this.deadline();
      for (const plan of plans) {
        const { cell, range } = await this.wholeRangeCell(plan, tenantId, deadline);
        covered = range;
        out[plan.name] = { value: valueOf(plan.metric, cell), count: cell.count };
      }
    });
    // The range actually covered: whole days when from and to fall on midnight UTC, else whole hours.
    return {
      from: new Date(covered.from).toISOString(),
      to: new Date(covered.to).toISOString(),
      metrics: out,
      meta: { query_ms: round(performance.now() - started) },
    };
  }

  /**
   * The turn-latency waterfall: per stage of a voice turn its p50, p95 and p99, its mean and its
   * share of the end-to-end time (stage mean ÷ end-to-end mean), each over the whole range. A stage
   * no turn of the range reported is left out.
   */
  async waterfall(body: WaterfallQueryDto, principal: Principal): Promise<WaterfallAnswerDto> {
    const started = performance.now();
    // A percentile metric resolves by one of its quantiles; the merged sketch answers all three.
    const names = [...WATERFALL_STAGES.map((s) => `${s.metric}.p50`), 'voice.turns.count'];
    const plans = names.map((name) => this.wholeRangePlan({ ...body, metric: name, grain: '1h' }, 'A waterfall'));
    const tenantId = await this.access.resolve(principal, plans[0].q.tenantId);
    const cells: Cell[] = [];
    let covered = { from: 0, to: 0 };
    await this.slots.run(tenantId, async () => {
      const deadline = this.deadline();
      for (const plan of plans) {
        const { cell, range } = await this.wholeRangeCell(plan, tenantId, deadline);
        covered = range;
        cells.push(cell);
      }
    });
    const turns = cells.pop()!.count;
    const mean = (c: Cell) => (c.count ? c.sum / c.count : null);
    const e2e = mean(cells[cells.length - 1]);
    const quantile = (c: Cell, q: number) => c.sketch!.quantile(q)!;
    return {
      from: new Date(covered.from).toISOString(),
      to: new Date(covered.to).toISOString(),
      turns,
      stages: WATERFALL_STAGES.flatMap((s, i) => {
        const c = cells[i];
        if (!c.count || !c.sketch?.count) return [];
        const m = mean(c)!;
        return [
          {
            stage: s.stage,
            metric: s.metric,
            turns: c.count,
            p50: quantile(c, 0.5),
            p95: quantile(c, 0.95),
            p99: quantile(c, 0.99),
            mean: m,
            share_of_e2e: e2e ? m / e2e : null,
          },
        ];
      }),
      meta: { query_ms: round(performance.now() - started) },
    };
  }

  /**
   * Exact cost of a range from the priced usage lines: the total in the currency (decimal string)
   * and in integer micro-units, optionally per group, and the usage no price applied to.
   */
  async cost(body: CostQueryDto, principal: Principal): Promise<CostAnswerDto> {
    const started = performance.now();
    const { from, to } = reportRange(body.from, body.to);
    checkRangeDays(from, to, this.config.reporting.maxRangeDays, 'ANALYTICS_REPORT_MAX_RANGE_DAYS', 'A cost report');
    const tenantId = await this.access.resolve(principal, body.tenantId.toLowerCase());
    const filter = {
      tenantId,
      from: new Date(from),
      to: new Date(to),
      siteId: body.site_id?.toLowerCase() ?? null,
      source: body.source ?? null,
    };
    const { report, currency } = await this.slots.run(tenantId, async () => {
      const deadline = this.deadline();
      try {
        return {
          report: await this.costs.report(filter, body.group_by ?? null, deadline.remainingMs()),
          currency: await this.costs.currency(tenantId),
        };
      } catch (err) {
        throw reportError(err, deadline, 'Choose a shorter range.');
      }
    });
    return {
      from: filter.from.toISOString(),
      to: filter.to.toISOString(),
      currency,
      total: money(report.total),
      missing: report.missing.map((m) => ({ ...m, lines: Number(m.lines), quantity: trimDecimal(m.quantity) })),
      ...(body.group_by ? { groups: report.groups.map((g) => ({ key: g.key, ...money(g) })) } : {}),
      meta: { query_ms: round(performance.now() - started) },
    };
  }

  /**
   * One conversation from its stored events: its turns in order with stage timings, outcomes, model
   * and tool calls, tokens and cost. Built from the named attributes of three event types only.
   */
  async conversation(id: string, query: ConversationQueryDto, principal: Principal): Promise<ConversationAnswerDto> {
    const started = performance.now();
    const { from, to } = reportRange(query.from, query.to);
    checkRangeDays(from, to, this.config.reporting.maxRangeDays, 'ANALYTICS_REPORT_MAX_RANGE_DAYS', 'A conversation');
    const tenantId = await this.access.resolve(principal, query.tenantId.toLowerCase());
    const maxEvents = this.config.reporting.maxEvents;
    const range = { from: new Date(from), to: new Date(to) };
    const { events, report, currency } = await this.slots.run(tenantId, async () => {
      const deadline = this.deadline();
      try {
        const rows = await this.events.forConversation(
          { tenantId, conversationId: id, eventNames: CONVERSATION_EVENTS, ...range, limit: maxEvents + 1 },
          deadline.remainingMs(),
        );
        if (rows.length > maxEvents) throw tooManyEvents(maxEvents, 'conversation');
        return {
          events: rows,
          report: await this.costs.report(
            { tenantId, ...range, siteId: null, source: null, conversationId: id },
            'turn',
            deadline.remainingMs(),
          ),
          currency: await this.costs.currency(tenantId),
        };
      } catch (err) {
        throw reportError(err, deadline, 'Choose a shorter range.');
      }
    });
    const byTurn = new Map(report.groups.map((g) => [g.key === null ? null : g.key.slice(id.length + 1), money(g)]));
    return {
      conversation_id: id,
      currency,
      turns: conversationTurns(events, (turn) => byTurn.get(turn) ?? NO_MONEY),
      cost: money(report.total),
      meta: { query_ms: round(performance.now() - started) },
    };
  }

  /** A metric's plan for one value over a whole range: whole days when from and to fall on midnight UTC, else whole hours. */
  private wholeRangePlan(body: TimeseriesQueryDto, what: string) {
    const q = this.read(body);
    checkRangeDays(q.from, q.to, this.config.reporting.maxRangeDays, 'ANALYTICS_REPORT_MAX_RANGE_DAYS', what);
    const metric = resolveMetric(body.metric)!;
    const aligned = q.from % 86_400_000 === 0 && q.to % 86_400_000 === 0;
    const plan = planTimeseries(
      q.from,
      q.to,
      aligned ? '1d' : '1h',
      Number.MAX_SAFE_INTEGER,
      metric.definition.aggregation === 'distinct_rate',
    );
    if ('error' in plan) throw invalid(plan.error);
    return { name: body.metric, q, metric, plan };
  }

  /**
   * One cell for a whole range, exactly: rollup cells merged (sketches too); a distinct rate over
   * several buckets counted from raw events as one bucket.
   */
  private async wholeRangeCell(
    { q, metric, plan }: ReturnType<ReportingService['wholeRangePlan']>,
    tenantId: string,
    deadline: ReportDeadline,
  ): Promise<{ cell: Cell; range: { from: number; to: number } }> {
    q.tenantId = tenantId;
    const range = { from: plan.buckets[0], to: plan.buckets[plan.buckets.length - 1] + plan.grainMs };
    // Distinct units (rates, cost per conversation or turn) over several buckets are counted as one bucket.
    const def = metric.definition;
    const oneBucket =
      plan.buckets.length === 1 ||
      (def.aggregation === 'distinct_rate'
        ? !plan.exactFromRollups
        : !(def.aggregation === 'cost' && def.cost !== 'total'));
    const { cells } = oneBucket
      ? await this.load(
          q,
          metric,
          plan.buckets,
          plan.grainMs,
          plan.level,
          this.config.rollups.enabled && plan.exactFromRollups,
          deadline,
        )
      : await this.load(q, metric, [plan.buckets[0]], plan.buckets.length * plan.grainMs, plan.level, false, deadline);
    const cell = emptyCell();
    for (const c of cells) mergeCell(cell, c);
    return { cell, range };
  }

  /**
   * A funnel from raw events: per step the units that passed it, conversions, median times and the
   * time-to-convert distribution; per breakdown value the same, and the step counts over time.
   */
  async funnel(body: unknown, principal: Principal): Promise<FunnelAnswer> {
    const started = performance.now();
    const q = parseFunnelRequest(body);
    checkRangeDays(
      q.from / 1000,
      q.to / 1000,
      this.config.reporting.funnelMaxRangeDays,
      'ANALYTICS_FUNNEL_MAX_RANGE_DAYS',
      'A funnel',
    );
    if (q.grain) {
      const g = CONVERSION_GRAINS[q.grain];
      const points = Math.floor(q.to / g) - Math.floor(q.from / g) + 1;
      const max = this.config.reporting.maxTimeseriesPoints;
      if (points > max)
        throw invalidFunnel(
          '/conversion_over_time/grain',
          'maximum',
          `conversion_over_time at ${q.grain} would have ${points} points; the limit is ${max} (ANALYTICS_MAX_TIMESERIES_POINTS). Choose a coarser grain or a shorter range.`,
        );
    }
    const tenantId = await this.access.resolve(principal, q.tenantId);
    const { maxEvents, maxUnitEvents } = this.config.reporting;
    const keys = attributeKeys(q);
    const match = compileMatcher(q, keys);
    const windowUs = q.windowSeconds * 1_000_000;
    const walk = {
      optional: q.steps.map((s) => s.optional),
      from: q.from,
      to: q.to,
      windowUs,
      strict: q.order === 'strict',
      exclusions: q.exclusions.map(({ a, b }) => ({ a, b })),
    };
    const breakdownValue = (row: FunnelEventRow) =>
      q.breakdown.map((p) =>
        p === 'site_id'
          ? (row.site_id ?? null)
          : p === 'source'
            ? row.source
            : (row.attrs[keys.indexOf(p.slice(11))] ?? null),
      );
    const unitName = q.unit === 'session_id' ? 'session' : q.unit === 'user_id' ? 'user' : q.unit;
    const chains = await this.slots.run(tenantId, async () => {
      const deadline = this.deadline();
      let rows: FunnelEventRow[];
      try {
        rows = await this.events.forFunnel(
          {
            tenantId,
            unit: q.unit.startsWith('attributes.') ? { attribute: q.unit.slice(11) } : (q.unit as 'session_id'),
            eventNames: eventNames(q),
            fromUs: q.from,
            toUs: q.to + windowUs,
            attributes: keys,
            siteId: q.breakdown.includes('site_id'),
            source: q.breakdown.includes('source'),
            limit: maxEvents + 1,
          },
          deadline.remainingMs(),
        );
      } catch (err) {
        throw reportError(err, deadline, 'Choose a shorter range.');
      }
      if (rows.length > maxEvents) throw tooManyEvents(maxEvents, 'funnel');
      const walked: { chain: Chain; values: unknown[] }[] = [];
      let units = 0;
      let eventsSinceCheck = 0;
      const current: WalkEvent[] = [];
      const rowOf: number[] = [];
      // Rows come in (unit, time, id) order: one unit's events are consecutive.
      for (let i = 0; i < rows.length;) {
        let end = i + 1;
        while (end < rows.length && rows[end].unit === rows[i].unit) end++;
        if (end - i > maxUnitEvents) {
          throw invalidReport(
            `One ${unitName} has more than ${maxUnitEvents} events in this funnel's range (ANALYTICS_FUNNEL_MAX_UNIT_EVENTS); narrow the range.`,
          );
        }
        current.length = 0;
        rowOf.length = 0;
        for (let j = i; j < end; j++) {
          const [steps, excl] = match(rows[j].event_name, rows[j].attrs);
          // Ordered chains skip events that match nothing; strict ones must see them.
          if (!steps && !excl && !walk.strict) continue;
          current.push({ at: rows[j].at_us, steps, excl });
          rowOf.push(j);
        }
        const chain = walkUnit(current, walk);
        if (chain) walked.push({ chain, values: breakdownValue(rows[rowOf[chain.start]]) });
        eventsSinceCheck += end - i;
        i = end;
        if (++units % CHECK_EVERY_UNITS === 0 || eventsSinceCheck >= CHECK_EVERY_EVENTS) {
          eventsSinceCheck = 0;
          deadline.check('while matching funnel steps after its query');
          await nextTurn();
        }
      }
      deadline.check('while matching funnel steps after its query');
      return walked;
    });
    const binsMs = q.binsMs ?? defaultBinsMs(q.windowSeconds);
    const previous = previousRequiredSteps(q.steps);
    const newTally = () => new FunnelTally(q.steps, binsMs, q.windowSeconds * 1000, previous);
    const all = newTally();
    for (const c of chains) all.add(c.chain);
    const lastRequired = q.steps.length - 1 - [...q.steps].reverse().findIndex((s) => !s.optional);
    return {
      steps: all.answer(),
      ...(q.breakdown.length
        ? {
            breakdown: {
              properties: q.breakdown,
              limit: q.breakdownLimit,
              ...breakdownGroups(chains, q.breakdownLimit, newTally),
            },
          }
        : {}),
      ...(q.grain
        ? {
            conversion_over_time: {
              grain: q.grain,
              points: conversionSeries(
                chains.map((c) => c.chain),
                q.steps.length,
                lastRequired,
                q.from,
                q.to,
                CONVERSION_GRAINS[q.grain],
              ),
            },
          }
        : {}),
      meta: {
        units: all.units,
        window_seconds: q.windowSeconds,
        unit: q.unit,
        order: q.order,
        bins_ms: binsMs,
        query_ms: round(performance.now() - started),
      },
    };
  }

  /** The cells of some buckets, from rollups or from raw events; a timeout becomes a 504. */
  private async load(
    q: ReturnType<ReportingService['read']>,
    metric: NonNullable<ReturnType<typeof resolveMetric>>,
    buckets: number[],
    grainMs: number,
    level: 'm' | 'h' | 'd',
    fromRollups: boolean,
    deadline: ReportDeadline,
  ): Promise<{ cells: Cell[]; level: TimeseriesAnswer['meta']['level'] }> {
    const def = metric.definition;
    const from = new Date(buckets[0]);
    const to = new Date(buckets[buckets.length - 1] + grainMs);
    const maxEvents = this.config.reporting.maxEvents;
    try {
      if (def.aggregation === 'cost') {
        const rows = await this.costs.buckets(
          { tenantId: q.tenantId, from, to, siteId: q.siteId, source: q.source },
          def.cost!,
          grainMs,
          deadline.remainingMs(),
        );
        const cells = buckets.map(emptyCell);
        for (const r of rows) {
          cells[r.i].count = Number(r.units);
          cells[r.i].num = Number(r.missing);
          cells[r.i].sum = r.micros ?? 0;
        }
        return { cells, level: 'usage' };
      }
      if (fromRollups) {
        const rows = await this.events.readRollups(
          {
            tenantId: q.tenantId,
            metric: def.name,
            level,
            siteId: q.siteId ?? ALL_SITES,
            source: q.source ?? ALL_SOURCES,
            from,
            to,
          },
          deadline.remainingMs(),
        );
        const cells = buckets.map(emptyCell);
        for (const r of rows) {
          const i = Math.floor((r.bucket.getTime() - buckets[0]) / grainMs);
          mergeCell(cells[i], {
            count: r.count,
            num: r.num,
            sum: r.sum,
            min: r.min,
            max: r.max,
            sketch: r.sketch ? DDSketch.decode(r.sketch) : null,
          });
        }
        return { cells, level };
      }
      const names = [def.of.event, def.numerator?.event].filter((n): n is string => !!n);
      const rows = await this.events.forReport(
        {
          tenantId: q.tenantId,
          eventNames: names.includes('*') ? null : [...new Set(names)],
          siteId: q.siteId,
          source: q.source,
          from,
          to,
          limit: maxEvents + 1,
        },
        deadline.remainingMs(),
      );
      if (rows.length > maxEvents) throw tooManyEvents(maxEvents, 'report');
      return { cells: cellsFromEvents(metric, rows, buckets, grainMs), level: 'raw' };
    } catch (err) {
      throw reportError(err, deadline, 'Choose a shorter range or a coarser grain.');
    }
  }

  /** A metric report's request, its shape checked by its DTO, as the instants and filters the queries take. */
  private read(body: TimeseriesQueryDto) {
    const { from, to } = reportRange(body.from, body.to);
    return {
      tenantId: body.tenantId.toLowerCase(),
      metric: body.metric,
      from,
      to,
      grain: body.grain,
      siteId: body.site_id?.toLowerCase() ?? null,
      source: body.source ?? null,
    };
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

const money = (m: MoneyRow) => ({
  amount: trimDecimal(m.amount),
  micros: m.micros,
  lines: Number(m.lines),
  missing_lines: Number(m.missing_lines),
});
