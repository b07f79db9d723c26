import { Module } from '@nestjs/common';
import { CostRepository } from './cost.repository';

/** Price books and the usage lines priced from them, for both roles: the fold writes lines, reports read them. */
@Module({
  providers: [CostRepository],
  exports: [CostRepository],
})
export class CostsModule {}
