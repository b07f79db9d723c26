import { Module } from '@nestjs/common';
import { RollupsModule } from '../rollups/rollups.module';
import { StorageModule } from '../storage/storage.module';
import { CostsModule } from '../costs/costs.module';
import { ReportingController } from './reporting.controller';
import { LiveController } from './live.controller';
import { LiveStream } from './live-stream.service';
import { REPORT_CLOCK, ReportingService } from './reporting.service';
import { ReportSlots } from './report-slots';
import { systemClock } from '../../common/clock';

/** Timeseries over rollups, summaries and funnels over raw events; the metric catalog. */
@Module({
  imports: [RollupsModule, StorageModule, CostsModule],
  controllers: [ReportingController, LiveController],
  providers: [ReportingService, ReportSlots, LiveStream, { provide: REPORT_CLOCK, useFactory: systemClock }],
  exports: [LiveStream],
})
export class ReportingModule {}
