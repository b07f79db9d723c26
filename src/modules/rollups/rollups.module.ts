import { Module } from '@nestjs/common';
import { RollupFolder } from './rollup-folder';
import { RollupRepository } from './rollup.repository';
import { RollupService } from './rollup.service';

/** The metric catalog, mergeable sketches, rollup tables and the fold of new events into them. */
@Module({
  providers: [RollupRepository, RollupService, RollupFolder],
  exports: [RollupService, RollupRepository, RollupFolder],
})
export class RollupsModule {}
