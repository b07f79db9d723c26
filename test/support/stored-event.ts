import { StoredEvent } from '../../src/modules/contracts/stored-event';

/** A stored event with every field set to a plain default, for unit tests. */
export function storedEvent(over: Partial<StoredEvent> = {}): StoredEvent {
  return {
    event_id: 'e',
    event_name: 'kb.search',
    occurred_at: '2026-11-28T10:00:00Z',
    received_at: '2026-11-28T10:00:00Z',
    tenant_id: 't',
    site_id: null,
    session_id: null,
    user_id: null,
    source: 'web',
    attributes: {},
    context: null,
    payload: null,
    ...over,
  };
}
