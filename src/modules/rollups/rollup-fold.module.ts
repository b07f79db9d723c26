import { Module } from '@nestjs/common';
import { RollupFolder } from './rollup-folder';
import { RollupsModule } from './rollups.module';
import { LivePublisher } from './live-publisher';

/** The worker's fold of newly stored events into the rollups, running from start-up to shutdown. */
@Module({
  imports: [RollupsModule],
  providers: [RollupFolder, LivePublisher],
  exports: [RollupFolder],
})
export class RollupFoldModule {}
