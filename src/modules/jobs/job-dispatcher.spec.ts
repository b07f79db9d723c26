import { Injectable } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { AnalyticsConfig } from '../config/analytics-config';
import { JobName, JobQueue } from '../contracts/jobs';
import { Telemetry } from '../observability/telemetry.service';
import { JobDispatcher } from './job-dispatcher.service';
import { HandlesJob } from './job-handler';

const handlerFor = (name: JobName) => {
  @Injectable()
  @HandlesJob(name)
  class Handler {
    handle(): Promise<string> {
      return Promise.resolve(name);
    }
  }
  return Handler;
};

async function dispatcherWith(handlers: ReturnType<typeof handlerFor>[]): Promise<JobDispatcher> {
  const module = await Test.createTestingModule({
    imports: [DiscoveryModule],
    providers: [
      JobDispatcher,
      { provide: AnalyticsConfig, useValue: {} },
      { provide: Telemetry, useValue: {} },
      ...handlers,
    ],
  }).compile();
  return module.get(JobDispatcher);
}

const ALL = Object.keys(JobQueue) as JobName[];

describe('JobDispatcher', () => {
  it('finds exactly one handler for every job', async () => {
    const dispatcher = await dispatcherWith(ALL.map(handlerFor));
    const found = dispatcher.handlers();
    expect([...found.keys()].sort()).toEqual([...ALL].sort());
    await expect(found.get('erase-subject')!.handle({ erasureId: 'x' }, undefined as never)).resolves.toBe(
      'erase-subject',
    );
  });

  it('refuses to start when a job has no handler, naming it', async () => {
    const dispatcher = await dispatcherWith(ALL.filter((n) => n !== 'apply-retention').map(handlerFor));
    expect(() => dispatcher.handlers()).toThrow('No handler for job(s) apply-retention');
  });

  it('refuses to start when a job has two handlers, naming it', async () => {
    const dispatcher = await dispatcherWith([...ALL.map(handlerFor), handlerFor('persist-events')]);
    expect(() => dispatcher.handlers()).toThrow('More than one handler for job(s) persist-events');
  });
});
