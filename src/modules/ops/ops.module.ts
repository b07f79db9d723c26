import { Module } from '@nestjs/common';
import { BullBoardModule } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { QueueName } from '../contracts/jobs';
import { AdminPagesMiddleware } from '../auth/admin-pages.middleware';
import { IngestionModule } from '../ingestion/ingestion.module';
import { RollupsModule } from '../rollups/rollups.module';
import { SelfContainedExpressAdapter } from './self-contained-express-adapter';
import { StatsController } from './stats.controller';
import { StatsService } from './stats.service';

/**
 * Operations: Bull Board at /admin/queues (admin key of an operator tenant, no request outside the
 * service) and /stats.
 */
@Module({
  imports: [
    IngestionModule,
    RollupsModule,
    BullBoardModule.forRoot({
      route: '/admin/queues',
      adapter: SelfContainedExpressAdapter,
      middleware: AdminPagesMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'Analytics queues' } },
    }),
    BullBoardModule.forFeature(
      { name: QueueName.Ingest, adapter: BullMQAdapter },
      { name: QueueName.Maintenance, adapter: BullMQAdapter },
    ),
  ],
  controllers: [StatsController],
  providers: [StatsService],
})
export class OpsModule {}
