import { Module } from '@nestjs/common';
import { RollupRepository } from './rollup.repository';
import { RollupService } from './rollup.service';

/** The metric catalog, mergeable sketches and the rollup tables, for both roles. */
@Module({
  providers: [RollupRepository, RollupService],
  exports: [RollupService, RollupRepository],
})
export class RollupsModule {}
