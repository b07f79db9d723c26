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

/**
 * The W3C trace context a job carries from the api to the worker (only while tracing is on): the
 * request it continues, and the other requests whose events travel in the same job.
 */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
  links?: string[];
}

export interface JobPayloads {
  'persist-events': { events: StoredEvent[]; trace?: TraceCarrier };
  /** An event of a persist-events job that Postgres refused, kept as a failed job with the reason. */
  'refused-event': {
    event: StoredEvent;
    error: { pointer: ''; keyword: 'storage'; message: string };
    job: string | null;
  };
  'quarantine-events': { events: QuarantinedEvent[]; trace?: TraceCarrier };
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
