/**
 * npm run bench:validation — events validated per second on one core (this process), for
 * realistic events of every built-in type plus a custom type and a self-describing payload:
 * the structural guard, the envelope, the attribute schema and the time window, as ingestion runs them.
 */
import { randomUUID } from 'node:crypto';
import { assessEvent, assessmentRules, eventChecks } from '../../src/modules/ingestion/event-assessment';
import { AnalyticsConfig } from '../../src/modules/config/analytics-config';
import { BUILTIN_EVENTS } from '../../src/modules/schema-registry/builtin-events';
import { EnvelopeValidator } from '../../src/modules/schema-registry/envelope-validator';
import { EventValidator } from '../../src/modules/schema-registry/event-validator';
import { TenantSchemaSet } from '../../src/modules/schema-registry/tenant-schema-set';

const N = Number(process.env.BENCH_EVENTS ?? 200_000);
const ROUNDS = 7;
const validator = new EventValidator(new EnvelopeValidator());
const schemas = new TenantSchemaSet([
  {
    name: 'acme.quote_requested',
    kind: 'event',
    version: { model: 1, revision: 0, addition: 0 },
    schema: {
      type: 'object',
      required: ['quote.id', 'quote.value'],
      properties: { 'quote.id': { type: 'string' }, 'quote.value': { type: 'number', minimum: 0 } },
    },
  },
  {
    name: 'com.acme/agent/jsonschema',
    kind: 'iglu',
    version: { model: 1, revision: 0, addition: 0 },
    schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, level: { type: 'integer' } } },
  },
]);
const checks = eventChecks(validator, schemas);
const rules = assessmentRules(AnalyticsConfig.fromEnvironment({})); // the service's defaults

const base = (event_name: string, attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  event_id: randomUUID(),
  event_name,
  occurred_at: new Date().toISOString(),
  tenant_id: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
  site_id: randomUUID(),
  session_id: randomUUID(),
  user_id: 'u_4821',
  source: 'voice_ws',
  attributes,
  context: {
    locale: 'en-US',
    page: { url: '/checkout' },
    device: { user_agent: 'Mozilla/5.0', viewport: { width: 1280, height: 720 } },
    consent: { analytics: true, ads: false },
  },
  ...extra,
});
const corpus = [
  ...BUILTIN_EVENTS.map((t) => base(t.name, structuredClone(t.example))),
  base('acme.quote_requested', { 'quote.id': 'q1', 'quote.value': 10 }),
  base(
    'voice.turn_started',
    { 'voice.session_id': 'vs', 'voice.turn_id': 't' },
    { payload: { schema: 'iglu:com.acme/agent/jsonschema/1-0-0', data: { id: 'a', level: 2 } } },
  ),
];
const events = Array.from({ length: N }, (_, i) => corpus[i % corpus.length]);

const now = new Date();
for (const e of events.slice(0, 5000)) assessEvent(e, checks, rules, now); // warm up
const rates: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const started = process.hrtime.bigint();
  let ok = 0;
  for (const e of events) if (assessEvent(e, checks, rules, now).ok) ok++;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (ok !== events.length) throw new Error(`${events.length - ok} realistic events were rejected`);
  rates.push(events.length / seconds);
  process.stderr.write(`\r  round ${r + 1}/${ROUNDS}: ${Math.round(rates[r]).toLocaleString()} events/s   `);
}
process.stderr.write('\n');
rates.sort((a, b) => a - b);
console.log(
  `validation of ${corpus.length} realistic event shapes, ${N.toLocaleString()} events x ${ROUNDS} rounds, one core:`,
);
console.log(
  `  median ${Math.round(rates[Math.floor(ROUNDS / 2)]).toLocaleString()} events/s, slowest round ${Math.round(rates[0]).toLocaleString()} events/s (${(1e6 / rates[Math.floor(ROUNDS / 2)]).toFixed(2)} µs per event)`,
);
