import { Injectable, Logger } from '@nestjs/common';
import { ErasureRepository } from './erasure.repository';
import { QuarantineRepository } from '../schema-registry/quarantine.repository';
import { EventsRepository } from '../storage/events.repository';

/** A data subject's stored events: erased on request (worker), exported page by page (api). */
@Injectable()
export class SubjectDataService {
  private readonly logger = new Logger(SubjectDataService.name);

  constructor(
    private readonly erasures: ErasureRepository,
    private readonly events: EventsRepository,
    private readonly quarantine: QuarantineRepository,
  ) {}

  async erase(erasureId: string): Promise<{ rows_deleted: number }> {
    const request = await this.erasures.subject(erasureId);
    if (!request) throw new Error(`no erasure request ${erasureId}`);
    const { tenant_id: tenant, subject_type: type, subject_hash: hash } = request;
    const rows = await this.erasures.eraseExclusively(async (tx) => {
      const deleted = await this.events.deleteSubject(tx, tenant, type, hash);
      await this.quarantine.deleteSubject(tx, tenant, type, hash);
      await this.erasures.complete(tx, erasureId, deleted);
      return deleted;
    });
    this.logger.log(`Erasure ${erasureId} completed: ${rows} rows deleted`);
    return { rows_deleted: rows };
  }

  async *export(tenantId: string, type: 'user' | 'session', value: string): AsyncGenerator<Record<string, unknown>[]> {
    let after: { at: string; id: string } | undefined;
    for (;;) {
      const page = await this.events.subjectPage(tenantId, type, value, 1000, after);
      if (!page.length) return;
      yield page;
      const last = page[page.length - 1];
      after = { at: last.occurred_at as string, id: last.event_id as string };
    }
  }
}
