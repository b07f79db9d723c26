import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { JobPayloads, QueueName } from '../contracts/jobs';
import { HandlesJob, JobHandler } from '../jobs/job-handler';
import { RetentionService } from './retention.service';

/** Drops what outlived its retention, daily (off the hour) or when an operator queues it. */
@Injectable()
@HandlesJob('apply-retention')
export class ApplyRetentionJob implements JobHandler<'apply-retention'> {
  constructor(
    private readonly retention: RetentionService,
    @InjectQueue(QueueName.Maintenance) private readonly maintenance: Queue,
  ) {}

  async beforeWorkerStart(): Promise<void> {
    await this.maintenance.upsertJobScheduler(
      'apply-retention',
      { pattern: '17 3 * * *', tz: 'UTC' },
      { name: 'apply-retention', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  handle({ now }: JobPayloads['apply-retention']): ReturnType<RetentionService['apply']> {
    return this.retention.apply(now ? new Date(now) : new Date());
  }
}
