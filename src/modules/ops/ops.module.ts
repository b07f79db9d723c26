import { Module } from '@nestjs/common';
import { BullBoardModule } from '@bull-board/nestjs';
import { ExpressAdapter } from '@bull-board/express';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { QueueName } from '../../app/queues';
import { AdminPagesMiddleware } from '../auth/admin-pages.middleware';

/** Bull Board at /admin/queues (admin key of an operator tenant): waiting, active, completed and failed jobs. */
@Module({
  imports: [
    BullBoardModule.forRoot({
      route: '/admin/queues',
      adapter: ExpressAdapter,
      middleware: AdminPagesMiddleware,
      boardOptions: { uiConfig: { boardTitle: 'Analytics queues' } },
    }),
    BullBoardModule.forFeature(
      { name: QueueName.Ingest, adapter: BullMQAdapter },
      { name: QueueName.Maintenance, adapter: BullMQAdapter },
    ),
  ],
})
export class OpsModule {}
