import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue, Worker } from 'bullmq';
import { closeWorker, startWorker } from '../../app/job-runner';
import { QueueName } from '../../app/queues';
import { AnalyticsConfig } from '../config/analytics-config';
import { RollupFolder } from '../rollups/rollup-folder';
import { QuarantineRepository } from '../schema-registry/quarantine.repository';
import { QuarantineReplayService } from './quarantine-replay.service';
import { RetentionService } from './retention.service';
import { StorageService } from './storage.service';
import { SubjectDataService } from './subject-data.service';

const PARTITION_SCHEDULE_MS = 60 * 60 * 1000;

/** Consumes the ingest and maintenance queues (worker role only). */
@Injectable()
export class StorageProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(StorageProcessor.name);
  private readonly workers: Worker[] = [];

  constructor(
    private readonly storage: StorageService,
    private readonly quarantine: QuarantineRepository,
    private readonly replays: QuarantineReplayService,
    private readonly retention: RetentionService,
    private readonly subjects: SubjectDataService,
    private readonly folder: RollupFolder,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @InjectQueue(QueueName.Maintenance) private readonly maintenance: Queue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const days = await this.storage.ensureUpcomingPartitions();
    this.logger.log(`Partitions ready from ${days[0]} to ${days[days.length - 1]}`);
    await this.maintenance.upsertJobScheduler(
      'ensure-partitions',
      { every: PARTITION_SCHEDULE_MS },
      { name: 'ensure-partitions', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.maintenance.upsertJobScheduler(
      'apply-retention',
      { pattern: '17 3 * * *', tz: 'UTC' }, // daily, off the hour
      { name: 'apply-retention', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );

    this.workers.push(
      startWorker(
        QueueName.Ingest,
        {
          'persist-events': async ({ events }) => {
            const outcome = await this.storage.persist(events);
            if (outcome.inserted) this.folder.kick(); // fold what was just stored, while it is fresh
            return outcome;
          },
          'quarantine-events': async ({ events }) => ({ quarantined: await this.quarantine.insert(events) }),
          'replay-quarantine': async ({ tenantId }) => this.replays.replay(tenantId),
        },
        this.config,
        { concurrency: this.config.worker.concurrency },
      ),
      startWorker(
        QueueName.Maintenance,
        {
          'ensure-partitions': async () => ({ days: await this.storage.ensureUpcomingPartitions() }),
          'apply-retention': async ({ now }) => this.retention.apply(now ? new Date(now) : new Date()),
          'erase-subject': async ({ erasureId }) => this.subjects.erase(erasureId),
        },
        this.config,
        { concurrency: 1 },
      ),
    );
    for (const w of this.workers) void w.run();
    this.folder.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map(closeWorker));
    await this.folder.stop();
  }
}
