import { Module } from '@nestjs/common';
import { systemClock } from '../../common/clock';
import { CostsModule } from './costs.module';
import { PriceBooksController } from './price-books.controller';
import { PRICE_BOOK_CLOCK, PriceBooksService } from './price-books.service';

/** The api's price-book endpoints (admin). */
@Module({
  imports: [CostsModule],
  controllers: [PriceBooksController],
  providers: [PriceBooksService, { provide: PRICE_BOOK_CLOCK, useFactory: systemClock }],
})
export class PriceBooksModule {}
