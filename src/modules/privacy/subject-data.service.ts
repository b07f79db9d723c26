import { Injectable, Logger } from '@nestjs/common';
import { TenantsRepository } from '../auth/tenants.repository';
import { RollupService } from '../rollups/rollup.service';
import { QuarantineRepository } from '../schema-registry/quarantine.repository';
import { EventStore } from '../storage/event-store';
import { ErasureRepository } from './erasure.repository';

/** A data subject's stored events: erased on request (worker), exported page by page (api). */
@Injectable()
export class SubjectDataService {
  private readonly logger = new Logger(SubjectDataService.name);

  constructor(
    private readonly erasures: ErasureRepository,
    private readonly events: EventStore,
    private readonly quarantine: QuarantineRepository,
    private readonly rollups: RollupService,
    private readonly tenants: TenantsRepository,
  ) {}

  /**
   * Deletes the subject's stored and quarantined events and the distinct-rate members their units
   * left, in one transaction that no insert of an event can overlap. The subject's events still
   * waiting to be folded are folded first, so the rollup rows count every event the subject had, as
   * they would had the fold come sooner.
   */
  async erase(erasureId: string): Promise<{ rows_deleted: number }> {
    const request = await this.erasures.subject(erasureId);
    if (!request) throw new Error(`no erasure request ${erasureId}`);
    const tenant = await this.tenants.findTenant(request.tenant_id);
    if (!tenant) throw new Error(`erasure request ${erasureId}: its tenant is gone`);
    const subject = {
      tenantId: request.tenant_id,
      type: request.subject_type,
      keys: request.subject_keys,
      secret: tenant.pseudonymSecret,
    };
    const { rows, members } = await this.erasures.eraseExclusively(async (tx) => {
      const deleted = await this.events.deleteSubject(tx, subject);
      const removed = await this.rollups.forgetSubject(tx, subject, deleted, {
        id: `erasure-${erasureId}`,
        retry: true,
      });
      await this.quarantine.deleteSubject(tx, subject);
      await this.erasures.complete(tx, erasureId, deleted.length);
      return { rows: deleted.length, members: removed };
    });
    this.logger.log(`Erasure ${erasureId} completed: ${rows} rows and ${members} distinct-rate members deleted`);
    return { rows_deleted: rows };
  }

  /** The subject's events under any of its stored ids (see PrivacyService.storedIds). */
  async *export(
    tenantId: string,
    type: 'user' | 'session',
    storedIds: string[],
  ): AsyncGenerator<Record<string, unknown>[]> {
    let after: { at: string; id: string } | undefined;
    for (;;) {
      const page = await this.events.subjectPage(tenantId, type, storedIds, 1000, after);
      if (!page.length) return;
      yield page;
      const last = page[page.length - 1];
      after = { at: last.occurred_at as string, id: last.event_id as string };
    }
  }
}
