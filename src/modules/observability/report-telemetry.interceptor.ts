import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { from, mergeMap, Observable, tap } from 'rxjs';
import { DataSource } from 'typeorm';
import { AnalyticsConfig } from '../config/analytics-config';
import { CapturedQuery, capturingQueries } from './query-capture';
import { Telemetry } from './telemetry.service';

const REPORT_ROUTE = /^\/api\/v1\/analytics\/reports\/(timeseries|summary|funnel)$/;
const EXPLAINABLE = /^\s*(SELECT|WITH)\b/i;

interface ReportRequest {
  route?: { path?: string };
  principal?: { scopes?: string[] };
}

/**
 * Report timings by kind and rollup level, and the reports that timed out (504). In debug mode
 * (ANALYTICS_DEBUG_MODE=true) a report answered to an admin key carries `meta.debug`: each SQL
 * statement it ran with its `EXPLAIN (ANALYZE, BUFFERS)` plan, and the timings.
 */
@Injectable()
export class ReportTelemetryInterceptor implements NestInterceptor {
  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<ReportRequest>();
    const kind = REPORT_ROUTE.exec(req.route?.path ?? '')?.[1];
    if (!kind) return next.handle();
    const started = performance.now();
    const m = this.telemetry.metrics;
    const debug = this.config.debug && (req.principal?.scopes ?? []).includes('admin');
    const queries: CapturedQuery[] = [];
    const handled = debug
      ? new Observable<unknown>((sub) => capturingQueries(queries, () => next.handle().subscribe(sub)))
      : next.handle();
    return handled.pipe(
      tap({
        next: (answer) => {
          const level = (answer as { meta?: { level?: unknown } } | null)?.meta?.level;
          m.reportDuration
            .labels(kind, typeof level === 'string' ? level : kind === 'funnel' ? 'raw' : 'mixed')
            .observe((performance.now() - started) / 1000);
        },
        error: (err: unknown) => {
          if ((err as { status?: number; getStatus?: () => number })?.getStatus?.() === 504)
            m.reportTimeouts.labels(kind).inc();
        },
      }),
      mergeMap((answer) => (debug ? from(this.withDebug(answer, queries, started)) : [answer])),
    );
  }

  /** The answer with meta.debug: each statement, its plan (re-run under EXPLAIN ANALYZE) and the report's time. */
  private async withDebug(answer: unknown, queries: CapturedQuery[], started: number): Promise<unknown> {
    const totalMs = round(performance.now() - started);
    const statements = [];
    for (const q of queries.filter((x) => EXPLAINABLE.test(x.sql))) {
      try {
        const [row] = await this.db.query<{ 'QUERY PLAN': unknown }[]>(
          `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.sql}`,
          q.parameters,
        );
        const plan = (
          row['QUERY PLAN'] as { 'Planning Time'?: number; 'Execution Time'?: number; Plan?: unknown }[]
        )[0];
        statements.push({
          sql: q.sql.replace(/\s+/g, ' ').trim(),
          planning_ms: plan['Planning Time'],
          execution_ms: plan['Execution Time'],
          plan: plan.Plan,
        });
      } catch (err) {
        statements.push({ sql: q.sql.replace(/\s+/g, ' ').trim(), error: (err as Error).message });
      }
    }
    if (!answer || typeof answer !== 'object') return answer;
    const a = answer as { meta?: Record<string, unknown> };
    return { ...a, meta: { ...(a.meta ?? {}), debug: { total_ms: totalMs, statements } } };
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
