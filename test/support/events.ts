import { randomUUID } from 'node:crypto';

import { BUILTIN_EVENTS } from '../../src/modules/schema-registry/builtin-events';
import { TENANT } from './tenants';

export { OTHER_TENANT, TENANT } from './tenants';

/**
 * A valid event (voice.first_response), with any field overridden. Naming another built-in type
 * without attributes gives that type's documented example attributes.
 */
export function makeEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const typeExample =
    typeof overrides.event_name === 'string' && !('attributes' in overrides)
      ? BUILTIN_EVENTS.find((t) => t.name === overrides.event_name)?.example
      : undefined;
  return {
    event_id: randomUUID(),
    event_name: 'voice.first_response',
    occurred_at: new Date().toISOString(),
    tenant_id: TENANT,
    site_id: '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31',
    session_id: randomUUID(),
    user_id: 'u_4821',
    source: 'voice_ws',
    attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': 412.5, 'gen_ai.request.model': 'gpt-4o-mini' },
    context: {
      locale: 'en-US',
      device: { user_agent: 'agent/1.0', viewport: { width: 1280, height: 720 } },
      consent: { analytics: true, ads: false },
    },
    ...(typeExample ? { attributes: structuredClone(typeExample) } : {}),
    ...overrides,
  };
}

export const EVENTS = '/api/v1/analytics/events';
export const BATCH = '/api/v1/analytics/events/batch';

/** Polls until `fn` returns true, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 15000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
