import { EventError } from '../schema-registry/event-error';

export type VerdictStatus = 'accepted' | 'duplicate' | 'dropped' | 'quarantined' | 'rejected';

/** The answer for one event of a request, in the order the events were sent. */
export interface EventVerdict {
  index: number;
  event_id: string | null;
  status: VerdictStatus;
  errors?: EventError[];
}

export interface IngestSummary {
  batch_id?: string;
  received: number;
  accepted: number;
  duplicate: number;
  dropped: number;
  quarantined: number;
  rejected: number;
  results: EventVerdict[];
}

export function summarize(results: EventVerdict[], batchId?: string): IngestSummary {
  const count = (s: VerdictStatus) => results.filter((r) => r.status === s).length;
  return {
    ...(batchId !== undefined ? { batch_id: batchId } : {}),
    received: results.length,
    accepted: count('accepted'),
    duplicate: count('duplicate'),
    dropped: count('dropped'),
    quarantined: count('quarantined'),
    rejected: count('rejected'),
    results,
  };
}
