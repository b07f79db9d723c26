import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { JobDispatcher } from './job-dispatcher.service';

/** The worker's queue consumers, dispatching each job to the handler its owning module provides. */
@Module({
  imports: [DiscoveryModule],
  providers: [JobDispatcher],
})
export class JobsModule {}
