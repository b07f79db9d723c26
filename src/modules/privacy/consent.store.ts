import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { StoredEvent } from '../../app/queues';
import { RedisClient } from '../../app/redis.provider';

type Subject = string; // redis key of a session or user

/**
 * Consent per session and per user. `context.consent.analytics === false` drops the event and
 * withdraws consent for its session and user; `true` gives it again; an event with no consent block
 * is dropped while its session or user has withdrawn. Subjects appear in keys only as hashes, and
 * records expire with the tenant's retention. Events are decided in order, so a withdrawal earlier
 * in a batch applies to the events after it.
 */
@Injectable()
export class ConsentStore {
  constructor(private readonly redis: RedisClient) {}

  private subjects(e: StoredEvent): Subject[] {
    const hash = (kind: string, id: string) => this.redis.key('consent', e.tenant_id, kind, createHash('sha256').update(id).digest('hex').slice(0, 32));
    return [...(e.session_id ? [hash('s', e.session_id)] : []), ...(e.user_id ? [hash('u', e.user_id)] : [])];
  }

  /** For each event, whether it may be kept; records withdrawals and renewed consent. */
  async decide(events: StoredEvent[], retentionDays: number): Promise<boolean[]> {
    const keys = [...new Set(events.flatMap((e) => this.subjects(e)))];
    if (keys.length === 0) return events.map((e) => consentOf(e) !== false);
    const withdrawn = new Map<Subject, boolean>();
    (await this.redis.mget(...keys)).forEach((v, i) => withdrawn.set(keys[i], v !== null));
    const changed = new Set<Subject>();
    const verdicts = events.map((e) => {
      const consent = consentOf(e);
      const subjects = this.subjects(e);
      if (consent === false || consent === true) {
        for (const s of subjects) {
          if (withdrawn.get(s) !== !consent) changed.add(s);
          withdrawn.set(s, !consent);
        }
        return consent;
      }
      return !subjects.some((s) => withdrawn.get(s));
    });
    if (changed.size) {
      const p = this.redis.pipeline();
      for (const s of changed) {
        if (withdrawn.get(s)) p.set(s, '1', 'EX', retentionDays * 86400);
        else p.del(s);
      }
      await p.exec();
    }
    return verdicts;
  }
}

function consentOf(e: StoredEvent): boolean | undefined {
  const c = (e.context?.consent as { analytics?: unknown } | undefined)?.analytics;
  return typeof c === 'boolean' ? c : undefined;
}
