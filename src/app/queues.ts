/**
 * Every queue and job the service knows, with its payload type. Producers and processors both
 * import from here, so a job name without a handler is a compile error and a start-up failure.
 */
export const QueueName = {
  Ingest: 'ingest',
  Maintenance: 'maintenance',
} as const;
export type QueueName = (typeof QueueName)[keyof typeof QueueName];

/** An event as it travels through the queue: validated and normalized, ready for storage. */
export interface StoredEvent {
  event_id: string;
  event_name: string;
  occurred_at: string;
  received_at: string;
  tenant_id: string;
  site_id: string | null;
  session_id: string | null;
  user_id: string | null;
  source: string;
  attributes: Record<string, unknown>;
  context: Record<string, unknown> | null;
  payload: Record<string, unknown> | null;
}

/** An event that failed only its content schema, kept apart with its errors (quarantine mode). */
export interface QuarantinedEvent {
  event: StoredEvent;
  errors: { pointer: string; keyword: string; message: string; schema?: string }[];
}

export interface JobPayloads {
  'persist-events': { events: StoredEvent[] };
  'quarantine-events': { events: QuarantinedEvent[] };
  'replay-quarantine': { tenantId: string };
  'ensure-partitions': Record<string, never>;
  'apply-retention': { now?: string };
  'erase-subject': { erasureId: string };
}
export type JobName = keyof JobPayloads;

export const JobQueue: Record<JobName, QueueName> = {
  'persist-events': QueueName.Ingest,
  'quarantine-events': QueueName.Ingest,
  'replay-quarantine': QueueName.Ingest,
  'ensure-partitions': QueueName.Maintenance,
  'apply-retention': QueueName.Maintenance,
  'erase-subject': QueueName.Maintenance,
};
