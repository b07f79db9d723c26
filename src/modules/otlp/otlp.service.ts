import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProblemException } from '../../common/problem';
import { Principal } from '../auth/principal';
import { AnalyticsConfig } from '../config/analytics-config';
import { IngestionService } from '../ingestion/ingestion.service';
import { EventVerdict } from '../ingestion/event-verdict';
import { Telemetry } from '../observability/telemetry.service';
import { sanitizeText } from '../privacy/sanitizer';
import { BUILTIN_EVENT_NAMES } from '../schema-registry/builtin-events';
import { SchemaCatalog } from '../schema-registry/schema-catalog.service';
import { mapExport } from './otlp-mapper';
import { OtlpExport } from './otlp-request';

/** The OTLP answer, as OTLP/JSON spells it; protobuf-encoded for a protobuf request. */
export interface OtlpAnswer {
  partialSuccess?: { rejectedSpans?: number; rejectedLogRecords?: number; errorMessage: string };
}

/** How many failures the partial-success message names before it says "and N more". */
const NAMED_FAILURES = 3;

/**
 * An OTLP export request → events (the mapping table), through the one ingestion pipeline
 * (IngestionService: validation, sanitizer, consent, dedupe, backlog gate, queue), and the verdicts
 * back as OTLP's partial success: the spans or records whose events were rejected, and a message
 * naming the first failures and how many items mapped to no event type.
 */
@Injectable()
export class OtlpService {
  private readonly logger = new Logger(OtlpService.name);

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly ingestion: IngestionService,
    private readonly schemas: SchemaCatalog,
    private readonly telemetry: Telemetry,
  ) {}

  async export(exp: OtlpExport, principal: Principal): Promise<OtlpAnswer> {
    const { tenantId } = principal;
    const tenantSchemas = exp.signal === 'logs' ? await this.tenantSchemas(tenantId) : null;
    const mapped = mapExport(exp, {
      tenantId,
      isEventType: (name) => BUILTIN_EVENT_NAMES.has(name) || tenantSchemas?.latestEvent(name) != null,
      keepContent: this.config.otlp.keepContentTenants.includes(tenantId.toLowerCase()),
    });
    const verdicts: EventVerdict[] = mapped.events.length
      ? await this.ingestion.ingestEvents(mapped.events, principal)
      : [];
    const rejected = new Map<number, string[]>();
    verdicts.forEach((v, i) => {
      if (v.status !== 'rejected') return;
      const origin = mapped.origins[i];
      const name = String(mapped.events[i].event_name);
      const why = (v.errors ?? []).map((e) => e.message).join('; ');
      rejected.set(origin, [...(rejected.get(origin) ?? []), `${name}: ${why}`]);
    });
    const kind = exp.signal === 'traces' ? 'span' : 'log record';
    const plural = (n: number) => `${n} ${kind}${n === 1 ? '' : 's'}`;
    this.telemetry.otlpItems(exp.signal, {
      mapped: mapped.items - mapped.skipped - rejected.size,
      skipped: mapped.skipped,
      rejected: rejected.size,
    });
    const parts: string[] = [];
    if (rejected.size) {
      const named = [...rejected.entries()]
        .slice(0, NAMED_FAILURES)
        .map(([origin, why]) => `${mapped.labels[origin]}: ${why.join(' | ')}`);
      const more = rejected.size - named.length;
      parts.push(
        `${plural(rejected.size)} rejected (their events failed validation; sending them again will not help): ${named.join('; ')}${more ? `; and ${more} more` : ''}.`,
      );
    }
    if (mapped.skipped) {
      parts.push(
        `${plural(mapped.skipped)} mapped to no event type and were skipped (see docs/otlp.md for what maps).`,
      );
    }
    if (this.config.debug) {
      this.logger.debug(
        `otlp ${exp.signal}: ${mapped.items} received, ${mapped.events.length} events, ${mapped.skipped} skipped, ${rejected.size} rejected`,
      );
    }
    if (!parts.length) return {};
    // An error message can quote what the client sent: through the sanitizer like every log line.
    const errorMessage = sanitizeText(parts.join(' ')).slice(0, 2000);
    return {
      partialSuccess:
        exp.signal === 'traces'
          ? { rejectedSpans: rejected.size, errorMessage }
          : { rejectedLogRecords: rejected.size, errorMessage },
    };
  }

  private async tenantSchemas(tenantId: string) {
    try {
      return await this.schemas.forTenant(tenantId);
    } catch (err) {
      this.logger.warn(`Tenant schemas unavailable: ${(err as Error).message}`);
      throw new ProblemException(
        503,
        'unavailable',
        'Service unavailable',
        "This tenant's event types cannot be loaded right now (database unavailable); nothing was stored. Retry shortly.",
        {},
        { 'Retry-After': '1' },
      );
    }
  }
}
