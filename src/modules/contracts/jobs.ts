import type { QuarantinedEvent, StoredEvent } from './stored-event';

/**
 * Every queue and job the service knows, with its payload type. Producers and processors both
 * import from here, so a job name without a handler is a compile error and a start-up failure.
 */
export const QueueName = {
  Ingest: 'ingest',
  Maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

export interface JobPayloads {
  'persist-events': { events: StoredEvent[] };
  /** An event of a persist-events job that Postgres refused, kept as a failed job with the reason. */
  'refused-event': {
    event: StoredEvent;
    error: { pointer: ''; keyword: 'storage'; message: string };
    job: string | null;
  };
  'quarantine-events': { events: QuarantinedEvent[] };
  'replay-quarantine': { tenantId: string };
  'ensure-partitions': Record<string, never>;
  'apply-retention': { now?: string };
  'erase-subject': { erasureId: string };
}
export type JobName = keyof JobPayloads;

export const JobQueue: Record<JobName, QueueName> = {
  'persist-events': QueueName.Ingest,
  'refused-event': QueueName.Ingest,
  'quarantine-events': QueueName.Ingest,
  'replay-quarantine': QueueName.Ingest,
  'ensure-partitions': QueueName.Maintenance,
  'apply-retention': QueueName.Maintenance,
  'erase-subject': QueueName.Maintenance,
};
