import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock';
import { ProblemException } from '../../common/problem';
import { AnalyticsConfig } from '../config/analytics-config';
import { checkRangeDays, reportRange } from '../reporting/report-bounds';
import { CostRepository, PriceRow } from './cost.repository';
import { PriceBookDto, PublishedPriceBookDto, PublishPriceBookDto, RepriceAnswerDto } from './dto/price-book.dto';
import { unitPrice } from './usage-lines';

/** Nest token of the clock that says whether a book begins in the past. */
export const PRICE_BOOK_CLOCK = Symbol('PriceBookClock');

const invalid = (pointer: string, keyword: string, message: string) =>
  new ProblemException(400, 'invalid-price-book', 'Invalid price book', `${message}.`, {
    errors: [{ pointer, keyword, message }],
  });

/** Publishing versions of a tenant's price book and re-pricing stored usage under them. */
@Injectable()
export class PriceBooksService {
  constructor(
    private readonly costs: CostRepository,
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    @Inject(PRICE_BOOK_CLOCK) private readonly clock: Clock,
  ) {}

  async publish(tenantId: string, body: PublishPriceBookDto): Promise<PublishedPriceBookDto> {
    const seen = new Set<string>();
    const prices: PriceRow[] = body.prices.map((p, i) => {
      if ((p.model === undefined) === (p.provider === undefined))
        throw invalid(`/prices/${i}`, 'oneOf', `prices/${i} must name exactly one of model and provider`);
      const match = p.model !== undefined ? 'model' : 'provider';
      const name = (p.model ?? p.provider)!;
      const key = `${p.unit}|${match}|${name}`;
      if (seen.has(key))
        throw invalid(`/prices/${i}`, 'uniqueItems', `prices/${i} prices ${p.unit} of ${match} ${name} a second time`);
      seen.add(key);
      return { match, name, unit: p.unit, unit_price: unitPrice(p.price, p.per ?? 1) };
    });
    const validFrom = new Date(body.valid_from);
    const out = await this.costs.publish(tenantId, { currency: body.currency, validFrom, prices });
    if ('currencyConflict' in out)
      throw new ProblemException(
        422,
        'price-book-currency',
        'Another currency',
        `This tenant's price book is in ${out.currencyConflict}; every version must be in the same currency, so that costs add up.`,
      );
    return {
      version: out.version,
      currency: body.currency,
      valid_from: validFrom.toISOString(),
      reprice_needed: validFrom.getTime() < this.clock.now(),
    };
  }

  async list(tenantId: string): Promise<PriceBookDto[]> {
    return (await this.costs.books(tenantId)).map((b) => ({
      version: b.version,
      currency: b.currency,
      valid_from: b.valid_from.toISOString(),
      created_at: b.created_at.toISOString(),
      prices: b.prices.map((p) => ({ ...p, unit_price: trim(p.unit_price) })),
    }));
  }

  async reprice(tenantId: string, from: string, to: string): Promise<RepriceAnswerDto> {
    const range = reportRange(from, to);
    checkRangeDays(
      range.from,
      range.to,
      this.config.reporting.maxRangeDays,
      'ANALYTICS_REPORT_MAX_RANGE_DAYS',
      'A re-pricing',
    );
    return this.costs.reprice(tenantId, new Date(range.from), new Date(range.to), 60_000);
  }
}

const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
