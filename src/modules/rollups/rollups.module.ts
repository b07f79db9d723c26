import { Module } from '@nestjs/common';
import { RollupRepository } from './rollup.repository';
import { RollupService } from './rollup.service';

/** The metric catalog, mergeable sketches, rollup tables and the fold of new events into them. */
@Module({
  providers: [RollupRepository, RollupService],
  exports: [RollupService, RollupRepository],
})
export class RollupsModule {}
