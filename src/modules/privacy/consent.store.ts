import { hash } from 'node:crypto';
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

  /** The Redis keys of an event's session and user; `memo` spares hashing an id twice in one request. */
  private subjects(e: StoredEvent, memo: Map<string, Subject>): Subject[] {
    const key = (kind: string, id: string) => {
      const k = `${e.tenant_id}|${kind}|${id}`;
      let subject = memo.get(k);
      if (subject === undefined) memo.set(k, (subject = this.redis.key('consent', e.tenant_id, kind, hash('sha256', id, 'hex').slice(0, 32))));
      return subject;
    };
    return [...(e.session_id ? [key('s', e.session_id)] : []), ...(e.user_id ? [key('u', e.user_id)] : [])];
  }

  /** For each event, whether it may be kept; records withdrawals and renewed consent. */
  async decide(events: StoredEvent[], retentionDays: number): Promise<boolean[]> {
    const memo = new Map<string, Subject>();
    const perEvent = events.map((e) => this.subjects(e, memo));
    const keys = [...new Set(perEvent.flat())];
    if (keys.length === 0) return events.map((e) => consentOf(e) !== false);
    const withdrawn = new Map<Subject, boolean>();
    (await this.redis.mget(...keys)).forEach((v, i) => withdrawn.set(keys[i], v !== null));
    const changed = new Set<Subject>();
    const verdicts = events.map((e, i) => {
      const consent = consentOf(e);
      const subjects = perEvent[i];
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
