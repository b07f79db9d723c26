import { Module } from '@nestjs/common';
import { BullBoardModule } from '@bull-board/nestjs';
import { ExpressAdapter } from '@bull-board/express';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { QueueName } from '../../app/queues';

/** Bull Board at /admin/queues: waiting, active, completed and failed jobs of every queue. */
@Module({
  imports: [
    BullBoardModule.forRoot({ route: '/admin/queues', adapter: ExpressAdapter, boardOptions: { uiConfig: { boardTitle: 'Analytics queues' } } }),
    BullBoardModule.forFeature(
      { name: QueueName.Ingest, adapter: BullMQAdapter },
      { name: QueueName.Maintenance, adapter: BullMQAdapter },
    ),
  ],
})
export class OpsModule {}
