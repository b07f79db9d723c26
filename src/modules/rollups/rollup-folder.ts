import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupRepository } from './rollup.repository';
import { RollupService } from './rollup.service';

/** pg advisory lock key: one folder at a time across every worker process. */
const FOLD_LOCK = 7_413_002;

/**
 * Folds stored events into the rollups (worker role). The persist transaction leaves each fresh
 * event in `analytics_rollup_pending`; a round takes up to `foldBatch` of them and, in ONE
 * transaction, folds them and deletes them, so each stored event is folded exactly once even if
 * a round fails or the process dies. Rounds run right after a job is stored (`kick`) and on a
 * timer for whatever other processes left. Folding thousands of events of many jobs at once
 * writes each hot rollup row once per round instead of once per job, and persist jobs no longer
 * wait on each other's rollup row locks.
 */
@Injectable()
export class RollupFolder {
  private readonly logger = new Logger(RollupFolder.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private lastError = 0;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly repo: RollupRepository,
    private readonly rollups: RollupService,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
  ) {}

  start(): void {
    if (!this.rollups.enabled || !this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.config.rollups.foldIntervalMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Asks for a round now; one already running is followed by another. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => { this.running = null; });
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.round()) === this.config.rollups.foldBatch) { /* a full round: more may wait */ }
      } catch (err) {
        // Nothing was lost: the round rolled back and its events are pending still. Said once a minute at most.
        if (Date.now() - this.lastError > 60_000) {
          this.lastError = Date.now();
          this.logger.warn(`Rollup fold failed, will retry: ${(err as Error).message}`);
        }
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** Folds one round of pending events; returns how many. */
  async round(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [{ locked }] = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [FOLD_LOCK]);
      if (!locked) return 0; // another process is folding
      const events = await this.repo.takePending(tx, this.config.rollups.foldBatch);
      await this.rollups.fold(tx, events);
      return events.length;
    });
  }
}
