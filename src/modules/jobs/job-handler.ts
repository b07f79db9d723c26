import { SetMetadata } from '@nestjs/common';
import type { Job } from 'bullmq';
import type { JobName, JobPayloads } from '../contracts/jobs';

export const JOB_HANDLER = Symbol('analytics:job-handler');

/**
 * The handler of one job, provided by the module that owns the work. The worker finds every class
 * marked with @HandlesJob at start-up and refuses to start when a job has no handler or two.
 */
export interface JobHandler<N extends JobName> {
  handle(data: JobPayloads[N], job: Job): Promise<unknown>;
  /** Runs once before the worker takes its first job (partitions, schedules). */
  beforeWorkerStart?(): Promise<void>;
}

export const HandlesJob = (name: JobName): ClassDecorator => SetMetadata(JOB_HANDLER, name);
