import { Injectable, Logger } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QueueName } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { StorageService } from './storage.service';

const PARTITION_SCHEDULE_MS = 60 * 60 * 1000;

/** Keeps the raw table's daily partitions ahead of time: at start-up, then hourly. */
@Injectable()
@HandlesJob('ensure-partitions')
export class EnsurePartitionsJob implements JobHandler<'ensure-partitions'> {
  private readonly logger = new Logger(EnsurePartitionsJob.name);

  constructor(
    private readonly storage: StorageService,
    @InjectQueue(QueueName.Maintenance) private readonly maintenance: Queue,
  ) {}

  async beforeWorkerStart(): Promise<void> {
    const days = await this.storage.ensureUpcomingPartitions();
    this.logger.log(`Partitions ready from ${days[0]} to ${days[days.length - 1]}`);
    await this.maintenance.upsertJobScheduler(
      'ensure-partitions',
      { every: PARTITION_SCHEDULE_MS },
      { name: 'ensure-partitions', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  async handle(): Promise<{ days: string[] }> {
    return { days: await this.storage.ensureUpcomingPartitions() };
  }
}
