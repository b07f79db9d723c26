/** The event contract both roles share: what the api queues and the worker stores. */

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
