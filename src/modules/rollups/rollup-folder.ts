import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { SpanContext } from '@opentelemetry/api';
import { AnalyticsConfig } from '../config/analytics-config';
import { Telemetry } from '../observability/telemetry.service';
import { EventStore } from '../storage/event-store';
import { RollupService } from './rollup.service';
import { LivePublisher } from './live-publisher';
import type { FoldableEvent, RollupDelta } from './rollup-fold';

/**
 * Folds stored events into the rollups (worker role). The persist statement leaves each fresh
 * event in `analytics_rollup_pending`; a round takes up to `foldBatch` of them and, in ONE
 * transaction, folds them and deletes them, so each stored event is folded exactly once even if
 * a round fails or the process dies. Folding the events of many jobs at once writes each hot
 * rollup row once per round instead of once per job, and persist jobs never wait on rollup row locks.
 *
 * A round runs right after a job is stored (`kick`) when the last one began at least
 * `foldIntervalMs` ago, else that long after it began, and on a timer for whatever other processes
 * left: a quiet stream is folded at once, a busy one in rounds of many events (a round's cost is
 * mostly per rollup row, not per event); a full round is followed at once.
 */
@Injectable()
export class RollupFolder implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RollupFolder.name);
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private lastRoundAt = 0;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private lastError = 0;
  /** With tracing on: the spans (jobs) that asked for a round since the last one began; the next round continues them. */
  private kickers: SpanContext[] = [];
  /** When a round of this process last found fewer pending events than a full round: the fold had caught up. */
  private caughtUpAt = Date.now();

  constructor(
    private readonly store: EventStore,
    private readonly rollups: RollupService,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly telemetry: Telemetry,
    private readonly live: LivePublisher,
  ) {
    // Pending events and the fold's lag, read at each scrape.
    telemetry.onScrape(async () => {
      const pending = await this.store.pendingCount();
      telemetry.metrics.rollupPending.set(pending);
      telemetry.metrics.foldLag.set(pending === 0 ? 0 : Math.max(0, (Date.now() - this.caughtUpAt) / 1000));
    });
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  /** After the job workers stopped (see stopOnSignals), and before the pool closes: the round running ends first. */
  beforeApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  start(): void {
    // On ClickHouse the rounds also ship stored events from the outbox: they run with rollups off too.
    if (!(this.rollups.enabled || this.store.backend === 'clickhouse') || !this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.config.rollups.foldIntervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = this.soon = null;
    await this.running;
  }

  /** Asks for a round: now, or `foldIntervalMs` after the last one began; one running is followed by another. */
  kick(): void {
    if (this.stopped) return;
    const asking = this.telemetry.activeSpanContext();
    if (asking && this.kickers.length < 128) this.kickers.push(asking);
    if (this.running) {
      this.again = true;
      return;
    }
    const wait = this.lastRoundAt + this.config.rollups.foldIntervalMs - Date.now();
    if (wait > 0) {
      this.soon ??= setTimeout(() => {
        this.soon = null;
        this.kick();
      }, wait);
      return;
    }
    this.again = false;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.again) this.kick();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.round()) === this.config.rollups.foldBatch) {
        /* a full round: more may wait */
      }
    } catch (err) {
      // Nothing was lost: the round rolled back and its events are pending still. Said once a minute at most.
      if (Date.now() - this.lastError > 60_000) {
        this.lastError = Date.now();
        this.logger.warn(`Rollup fold failed, will retry: ${(err as Error).message}`);
      }
    }
  }

  /** Folds one round of pending events; returns how many. */
  async round(): Promise<number> {
    this.lastRoundAt = Date.now();
    const started = performance.now();
    const causes = this.kickers;
    this.kickers = [];
    // The committed attempt's events and deltas: they go to the live stream once the round is committed.
    let committed: { events: FoldableEvent[]; deltas: RollupDelta[] } | null = null;
    const round = await this.telemetry.spanFor('rollups.fold', causes, (span) =>
      this.store.foldRound(this.config.rollups.foldBatch, async (tx, events, block) => {
        const deltas = await this.rollups.fold(tx, events, block);
        span?.setAttribute('analytics.events', events.length);
        committed = { events, deltas };
      }),
    );
    if (round === null) return 0;
    const folded = round;
    // Committed: the changed minute buckets go to the live stream of every api instance.
    const done = committed as { events: FoldableEvent[]; deltas: RollupDelta[] } | null;
    if (done) await this.live.publish(done.events, done.deltas);
    const m = this.telemetry.metrics;
    m.foldDuration.observe((performance.now() - started) / 1000);
    if (folded) m.folded.inc(folded);
    if (folded < this.config.rollups.foldBatch) this.caughtUpAt = Date.now();
    return folded;
  }
}
