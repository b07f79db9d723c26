import { Injectable, Logger } from '@nestjs/common';
import { EventValidator } from '../schema-registry/event-validator';
import { QuarantineRepository } from '../schema-registry/quarantine.repository';
import { TenantSchemas } from '../schema-registry/tenant-schemas.service';
import { StorageService } from './storage.service';

const PAGE = 500;

/**
 * Runs a tenant's quarantined events through its current schemas: those that now pass are stored
 * through the dedupe ledger (so a replay, or two, stores each once) and marked replayed; the rest
 * stay with their new errors.
 */
@Injectable()
export class QuarantineReplayService {
  private readonly logger = new Logger(QuarantineReplayService.name);

  constructor(
    private readonly quarantine: QuarantineRepository,
    private readonly schemas: TenantSchemas,
    private readonly validator: EventValidator,
    private readonly storage: StorageService,
  ) {}

  async replay(tenantId: string): Promise<{ replayed: number; stored: number; still_invalid: number }> {
    const schemas = await this.schemas.load(tenantId);
    let after: { at: string; id: string } | undefined;
    const totals = { replayed: 0, stored: 0, still_invalid: 0 };
    for (;;) {
      const page = await this.quarantine.pending(tenantId, PAGE, after);
      if (!page.length) break;
      after = { at: page[page.length - 1].quarantined_at, id: page[page.length - 1].event_id };
      const valid = [];
      const invalid = [];
      for (const row of page) {
        const errors = this.validator.content(row.event as unknown as Record<string, unknown>, schemas);
        if (errors.length) invalid.push({ eventId: row.event_id, errors });
        else valid.push(row.event);
      }
      let refused = 0;
      if (valid.length) {
        const outcome = await this.storage.persist(valid);
        totals.stored += outcome.inserted;
        // An event Postgres refuses stays in quarantine, its storage error in place of the old ones.
        const notStored = new Set(outcome.refused.map((r) => r.event));
        for (const r of outcome.refused) invalid.push({ eventId: r.event.event_id, errors: [r.error] });
        refused = notStored.size;
        await this.quarantine.markReplayed(
          tenantId,
          valid.filter((e) => !notStored.has(e)).map((e) => e.event_id),
        );
      }
      await this.quarantine.updateErrors(tenantId, invalid);
      totals.replayed += valid.length - refused;
      totals.still_invalid += invalid.length;
    }
    this.logger.log(
      `Replayed quarantine of ${tenantId}: ${totals.replayed} now valid (${totals.stored} stored), ${totals.still_invalid} still invalid`,
    );
    return totals;
  }
}
