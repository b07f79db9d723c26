import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AuthenticatedApi, JsonBodyProblems } from '../../common/api-docs';
import { CurrentPrincipal, RequireScope } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import {
  PriceBookDto,
  PublishedPriceBookDto,
  PublishPriceBookDto,
  RepriceAnswerDto,
  RepriceDto,
} from './dto/price-book.dto';
import { PriceBooksService } from './price-books.service';

@ApiTags('costs')
@AuthenticatedApi('Not an admin credential')
@RequireScope('admin')
@Controller('api/v1/analytics/price-books')
export class PriceBooksController {
  constructor(private readonly books: PriceBooksService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    operationId: 'publishPriceBook',
    summary: "Publish the next version of the tenant's price book (admin)",
    description:
      "A version is a whole price list, per model or provider and unit, valid from a date until a later version begins. Usage is priced when it is folded, under the version valid at the event's time (a model's own price before its provider's). A version valid from the past does not change costs already computed: re-price the range (POST /price-books/reprice); reprice_needed says so. docs/metrics.md, *Cost*.",
  })
  @ApiBody({ type: PublishPriceBookDto })
  @ApiResponse({ status: 201, type: PublishedPriceBookDto })
  @ApiProblem(
    400,
    'A malformed book: a bad currency, date, unit, price or per; a price naming both or neither of model and provider, or the same price twice (errors points at it)',
  )
  @ApiProblem(422, "Another currency than the tenant's earlier versions")
  @JsonBodyProblems()
  publish(@Body() body: PublishPriceBookDto, @CurrentPrincipal() p: Principal): Promise<PublishedPriceBookDto> {
    return this.books.publish(p.tenantId, body);
  }

  @Get()
  @ApiOperation({
    operationId: 'listPriceBooks',
    summary: "Every version of the tenant's price book, oldest first (admin)",
    description: 'Each version with its currency, validity start and prices, each as the exact price of one unit.',
  })
  @ApiResponse({ status: 200, type: [PriceBookDto] })
  list(@CurrentPrincipal() p: Principal): Promise<PriceBookDto[]> {
    return this.books.list(p.tenantId);
  }

  @Post('reprice')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'repricePriceBooks',
    summary: 'Re-price stored usage of a past range under the price books as they are now (admin)',
    description:
      'Every usage line with its time in [from, to) gets the cost of the version valid at its time, exactly; lines still without a price are counted in missing. Idempotent: a second run changes nothing.',
  })
  @ApiBody({ type: RepriceDto })
  @ApiResponse({ status: 200, type: RepriceAnswerDto })
  @ApiProblem(400, 'A bad date, to not after from, or a range longer than ANALYTICS_REPORT_MAX_RANGE_DAYS')
  @JsonBodyProblems()
  reprice(@Body() body: RepriceDto, @CurrentPrincipal() p: Principal): Promise<RepriceAnswerDto> {
    return this.books.reprice(p.tenantId, body.from, body.to);
  }
}
