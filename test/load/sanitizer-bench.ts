/**
 * npm run bench:sanitizer — events sanitized per second on one core (this process), for realistic
 * events: free text with and without personal data, nested attributes, page context, user ids.
 */
import { randomUUID } from 'node:crypto';
import { StoredEvent } from '../../src/modules/contracts/stored-event';
import { BUILTIN_EVENTS } from '../../src/modules/schema-registry/builtin-events';
import { pseudonymize } from '../../src/modules/privacy/privacy.service';
import { sanitizeEvent } from '../../src/modules/privacy/sanitizer';

const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROUNDS = 7;
const secret = Buffer.alloc(32, 7);
const policy = {
  extraSensitiveKeys: [],
  piiAttributes: new Map(),
  pseudonymizeUserId: true,
  pseudonymize: (v: string) => pseudonymize(secret, v),
};
const event = (name: string, attributes: Record<string, unknown>): StoredEvent => ({
  event_id: randomUUID(),
  event_name: name,
  occurred_at: new Date().toISOString(),
  received_at: new Date().toISOString(),
  tenant_id: randomUUID(),
  site_id: randomUUID(),
  session_id: randomUUID(),
  user_id: 'u_4821',
  source: 'web',
  attributes,
  context: {
    locale: 'en-US',
    page: {
      url: 'https://shop.example.com/checkout/step-2?coupon=SPRING',
      referrer: 'https://www.google.com/search?q=shoes',
      title: 'Checkout',
    },
    device: {
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36',
      viewport: { width: 1280, height: 720 },
    },
    consent: { analytics: true, ads: false },
  },
  payload: null,
});
const corpus = [
  ...BUILTIN_EVENTS.map((t) => event(t.name, structuredClone(t.example))),
  event('kb.search', {
    'kb.search_id': 's-1',
    'kb.query': 'what is the refund policy for orders placed last week with express shipping',
    'kb.results_count': 4,
    'kb.latency_ms': 38,
  }),
  event('kb.search', {
    'kb.search_id': 's-2',
    'kb.query': 'change email from jane.doe@example.com, phone +44 20 7946 0958',
    'kb.results_count': 1,
    'kb.latency_ms': 51,
  }),
  event('system.error', {
    'error.type': 'timeout',
    'error.message': 'upstream 10.2.3.4 timed out after 3000 ms for order ORD-2025-000123',
    'service.name': 'checkout',
  }),
];
const events = Array.from({ length: N }, (_, i) => corpus[i % corpus.length]);

for (const e of events.slice(0, 5000)) sanitizeEvent(e, policy);
const rates: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const started = process.hrtime.bigint();
  for (const e of events) sanitizeEvent(e, policy);
  rates.push(N / (Number(process.hrtime.bigint() - started) / 1e9));
  process.stderr.write(`\r  round ${r + 1}/${ROUNDS}: ${Math.round(rates[r]).toLocaleString()} events/s   `);
}
process.stderr.write('\n');
rates.sort((a, b) => a - b);
const median = rates[Math.floor(ROUNDS / 2)];
console.log(
  `sanitizer on ${corpus.length} realistic event shapes, ${N.toLocaleString()} events x ${ROUNDS} rounds, one core:`,
);
console.log(
  `  median ${Math.round(median).toLocaleString()} events/s, slowest round ${Math.round(rates[0]).toLocaleString()} events/s (${(1e6 / median).toFixed(1)} µs per event)`,
);
