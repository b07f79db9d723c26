import { Module } from '@nestjs/common';
import { RollupsModule } from '../rollups/rollups.module';
import { StorageModule } from '../storage/storage.module';
import { ReportingController } from './reporting.controller';
import { ReportingService } from './reporting.service';

/** Timeseries over rollups, summaries and funnels over raw events; the metric catalog. */
@Module({
  imports: [RollupsModule, StorageModule],
  controllers: [ReportingController],
  providers: [ReportingService],
})
export class ReportingModule {}
