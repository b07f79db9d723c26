import type Redis from 'ioredis';
import { SchemaCatalog } from '../src/modules/schema-registry/schema-catalog.service';
import { SchemaRepository } from '../src/modules/schema-registry/schema.repository';
import { EVENTS, BATCH, makeEvent, waitFor } from './support/events';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv, request } from './support/test-env';

const SCHEMAS = '/api/v1/analytics/schemas';
const quote = (props: Record<string, unknown> = {}, required = ['quote.id', 'quote.value']) => ({
  type: 'object',
  required,
  properties: { 'quote.id': { type: 'string', minLength: 1 }, 'quote.value': { type: 'number', minimum: 0 }, ...props },
});
const CONTEXT_URI = 'iglu:com.acme/quote_context/jsonschema/1-0-0';
const contextSchema = {
  type: 'object',
  required: ['channel', 'agent'],
  additionalProperties: false,
  properties: {
    channel: { type: 'string', enum: ['phone', 'chat'] },
    agent: {
      type: 'object',
      required: ['id'],
      properties: { id: { type: 'string' }, level: { type: 'integer', minimum: 1 } },
    },
  },
};

describe('schema registry', () => {
  let t: TestEnv;
  const publish = (body: unknown, key = t.tenant.admin) => t.post(SCHEMAS, body, key);
  const quoteEvent = (attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    makeEvent({ event_name: 'acme.quote_requested', attributes, ...extra });

  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  it('refuses an event type nobody declared', async () => {
    const res = await t.post(EVENTS, quoteEvent({ 'quote.id': 'q1', 'quote.value': 10 }));
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([
      {
        pointer: '/event_name',
        keyword: 'unknownEvent',
        schema: 'registry',
        message:
          '/event_name "acme.quote_requested" is neither a built-in event type nor a schema this tenant has published',
      },
    ]);
  });

  it('publishes a custom event type, then validates its events against it and stores them', async () => {
    const res = await publish({ event_name: 'acme.quote_requested', version: '1-0-0', schema: quote() });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      name: 'acme.quote_requested',
      kind: 'event',
      version: '1-0-0',
      ref: 'acme.quote_requested/1-0-0',
    });

    const ok = quoteEvent({ 'quote.id': 'q1', 'quote.value': 10 });
    expect((await t.post(EVENTS, ok)).json.status).toBe('accepted');
    const bad = await t.post(EVENTS, quoteEvent({ 'quote.id': '', 'quote.value': 'ten' }));
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([
      {
        pointer: '/attributes/quote.id',
        keyword: 'minLength',
        message: '/attributes/quote.id must NOT have fewer than 1 characters',
        schema: 'acme.quote_requested/1-0-0',
      },
      {
        pointer: '/attributes/quote.value',
        keyword: 'type',
        message: '/attributes/quote.value must be a number',
        schema: 'acme.quote_requested/1-0-0',
      },
    ]);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = $1', [ok.event_id])).toBe(1);
  });

  it('enforces SchemaVer: immutable versions, single steps, and backward-compatible ADDITIONs', async () => {
    const again = await publish({
      event_name: 'acme.quote_requested',
      version: '1-0-0',
      schema: quote({ x: { type: 'string' } }),
    });
    expect(again.status).toBe(409);
    expect(again.json.detail).toBe(
      'acme.quote_requested 1-0-0 is already published; versions are immutable. Publish the next version instead.',
    );

    const skipped = await publish({ event_name: 'acme.quote_requested', version: '1-0-2', schema: quote() });
    expect(skipped.status).toBe(422);
    expect(skipped.json.detail).toBe(
      'The version after 1-0-0 is 1-0-1 (addition), 1-1-0 (revision) or 2-0-0 (model); got 1-0-2.',
    );

    const first = await publish({ event_name: 'acme.other', version: '1-1-0', schema: quote() });
    expect(first.json.detail).toBe('The first version of acme.other must be 1-0-0 (got 1-1-0).');

    const breaking = await publish({
      event_name: 'acme.quote_requested',
      version: '1-0-1',
      schema: quote({ 'quote.value': { type: 'integer', minimum: 0 }, 'quote.note': { type: 'string' } }, [
        'quote.id',
        'quote.value',
        'quote.note',
      ]),
    });
    expect(breaking.status).toBe(422);
    expect(breaking.json.reasons).toEqual([
      '/required: new required property "quote.note"',
      '/properties/quote.value: type narrowed from "number" to "integer"',
    ]);

    const addition = await publish({
      event_name: 'acme.quote_requested',
      version: '1-0-1',
      schema: quote({ 'quote.note': { type: 'string', maxLength: 100 } }),
    });
    expect(addition.status).toBe(201);
    // events now meet the newest version
    const res = await t.post(EVENTS, quoteEvent({ 'quote.id': 'q2', 'quote.value': 1, 'quote.note': 5 }));
    expect(res.json.errors[0]).toMatchObject({
      pointer: '/attributes/quote.note',
      keyword: 'type',
      schema: 'acme.quote_requested/1-0-1',
    });

    const model = await publish({
      event_name: 'acme.quote_requested',
      version: '2-0-0',
      schema: quote({}, ['quote.id']),
    });
    expect(model.status).toBe(201); // a MODEL step may break anything
  });

  it('validates self-describing payloads and context entities against exactly the Iglu version they name', async () => {
    expect((await publish({ uri: CONTEXT_URI, schema: contextSchema })).status).toBe(201);
    const entity = (data: unknown, schema = CONTEXT_URI) => ({ schema, data });
    const ev = (extra: Record<string, unknown>) => makeEvent({ event_name: 'voice.turn_started', ...extra });

    const good = ev({
      payload: entity({ channel: 'phone', agent: { id: 'a1', level: 2 } }),
      context: { locale: 'en', entities: [entity({ channel: 'chat', agent: { id: 'a2' } })] },
    });
    expect((await t.post(EVENTS, good)).json.status).toBe('accepted');
    await drained(t.ingestQueue);
    const stored = await t.db.query('SELECT payload, context FROM analytics_events_raw WHERE event_id = $1', [
      good.event_id,
    ]);
    expect(stored.rows[0].payload).toEqual(good.payload);
    expect(stored.rows[0].context.entities).toHaveLength(1);

    const cases: [Record<string, unknown>, object][] = [
      [
        { payload: entity({ channel: 'fax', agent: { id: 'a1' } }) },
        {
          pointer: '/payload/data/channel',
          keyword: 'enum',
          schema: CONTEXT_URI,
          message: '/payload/data/channel must be one of phone, chat',
        },
      ],
      [
        { payload: entity({ channel: 'phone', agent: { id: 'a1', level: 0 } }) },
        {
          pointer: '/payload/data/agent/level',
          keyword: 'minimum',
          schema: CONTEXT_URI,
          message: '/payload/data/agent/level must be >= 1',
        },
      ],
      [
        {
          context: {
            entities: [entity({ channel: 'chat', agent: { id: 'a' } }), entity({ channel: 'chat', agent: {} })],
          },
        },
        {
          pointer: '/context/entities/1/data/agent/id',
          keyword: 'required',
          schema: CONTEXT_URI,
          message: '/context/entities/1/data/agent/id is required',
        },
      ],
      [
        { payload: entity({ channel: 'chat', agent: { id: 'a' } }, 'iglu:com.acme/quote_context/jsonschema/1-0-1') },
        {
          pointer: '/payload/schema',
          keyword: 'unknownSchema',
          schema: 'iglu:com.acme/quote_context/jsonschema/1-0-1',
          message:
            '/payload/schema iglu:com.acme/quote_context/jsonschema/1-0-1 is not a schema this tenant has published',
        },
      ],
      [
        { context: { entities: [entity({}, 'com.acme/quote_context/1-0-0')] } },
        {
          pointer: '/context/entities/0/schema',
          keyword: 'igluUri',
          schema: 'registry',
          message:
            '/context/entities/0/schema must be an Iglu URI iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION (got "com.acme/quote_context/1-0-0")',
        },
      ],
    ];
    for (const [extra, error] of cases) {
      const res = await t.post(EVENTS, ev(extra));
      expect(res.status).toBe(400);
      expect(res.json.errors).toEqual([error]);
    }
  });

  it('lists every error of a batch event, and accepts the valid events of the batch', async () => {
    const res = await t.post(BATCH, {
      events: [
        quoteEvent({ 'quote.id': 'q3', 'quote.value': 3 }),
        makeEvent({
          event_name: 'kb.search',
          attributes: { 'kb.search_id': 's', 'kb.results_count': -1, 'kb.latency_ms': 'slow' },
        }),
      ],
    });
    expect(res.json).toMatchObject({ accepted: 1, rejected: 1 });
    expect(
      res.json.results[1].errors.map((e: { pointer: string; keyword: string }) => `${e.pointer} ${e.keyword}`),
    ).toEqual([
      '/attributes/kb.query required',
      '/attributes/kb.results_count minimum',
      '/attributes/kb.latency_ms type',
    ]);
  });

  it('refuses hostile schemas with the reason', async () => {
    const cases: [object, string][] = [
      [
        { type: 'object', properties: { a: { $ref: 'http://169.254.169.254/latest' } } },
        'only references inside the schema',
      ],
      [{ type: 'object', properties: { a: { type: 'string', pattern: '^(a|aa)+$' } } }, 'can take exponential time'],
      [{ type: 'object', properties: { a: { type: 'strung' } } }, 'meta-schema'],
      [{ type: 'object', properties: { a: { type: 'string', format: 'shoe-size' } } }, 'unknown format "shoe-size"'],
    ];
    for (const [schema, reason] of cases) {
      const res = await publish({ event_name: 'acme.hostile', version: '1-0-0', schema });
      expect(res.status).toBe(400);
      expect(res.json.detail).toContain(reason);
    }
    expect((await publish({ event_name: 'voice.turn_started', version: '1-0-0', schema: quote() })).json.detail).toBe(
      '/event_name voice.turn_started is a built-in event type; its schema cannot be replaced.',
    );
  });

  it('lists built-ins and published schemas, serves one version, and keeps tenants apart', async () => {
    const list = await t.get(SCHEMAS, t.tenant.report);
    expect(list.json.filter((s: { kind: string }) => s.kind === 'builtin')).toHaveLength(16);
    expect(list.json).toEqual(
      expect.arrayContaining([
        { name: 'acme.quote_requested', kind: 'event', versions: ['1-0-0', '1-0-1', '2-0-0'], latest: '2-0-0' },
        { name: 'com.acme/quote_context/jsonschema', kind: 'iglu', versions: ['1-0-0'], latest: '1-0-0' },
      ]),
    );
    const one = await t.get(`${SCHEMAS}/version?name=acme.quote_requested&version=1-0-1`, t.tenant.report);
    expect(one.json).toMatchObject({
      version: '1-0-1',
      schema: { properties: { 'quote.note': { type: 'string', maxLength: 100 } } },
    });
    expect((await t.get(`${SCHEMAS}/version?uri=${encodeURIComponent(CONTEXT_URI)}`, t.tenant.report)).json.uri).toBe(
      CONTEXT_URI,
    );
    expect((await t.get(`${SCHEMAS}/version?name=acme.nothing`, t.tenant.report)).status).toBe(404);
    expect((await publish({ event_name: 'acme.x', version: '1-0-0', schema: quote() }, t.tenant.report)).status).toBe(
      403,
    );

    // another tenant sees none of it, and its events of that name are unknown
    const others = await t.get(SCHEMAS, t.other.report);
    expect(others.json.map((s: { name: string }) => s.name)).not.toContain('acme.quote_requested');
    const foreign = await t.post(
      EVENTS,
      quoteEvent({ 'quote.id': 'q', 'quote.value': 1 }, { tenant_id: t.other.id }),
      t.other.ingest,
    );
    expect(foreign.json.errors[0].keyword).toBe('unknownEvent');
  });

  it('a version published through one instance is enforced by another within a second', async () => {
    const { createApiApp } = await import('../src/app/bootstrap');
    const second = await createApiApp(t.config);
    await second.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
    try {
      const send = () =>
        request(`${url}${EVENTS}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.ingest}` },
          body: JSON.stringify(makeEvent({ event_name: 'acme.lead_captured', attributes: { 'lead.source': 'ad' } })),
        });
      expect((await send()).status).toBe(400); // the second instance now caches this tenant's schemas
      // What makes it "within a second": the publish tells every instance at once over Redis, and
      // the second instance reads that name's versions again on the message (only that name).
      const catalog = second.get(SchemaCatalog);
      const announced: unknown[] = [];
      (catalog as unknown as { subscriber: Redis }).subscriber.on('message', (_channel: string, message: string) =>
        announced.push(JSON.parse(message)),
      );
      const repo = second.get(SchemaRepository);
      const reads = jest.spyOn(repo, 'forTenant');
      const nameReads = jest.spyOn(repo, 'forName');
      expect(
        (
          await publish({
            event_name: 'acme.lead_captured',
            version: '1-0-0',
            schema: { type: 'object', properties: { 'lead.source': { type: 'string' } } },
          })
        ).status,
      ).toBe(201);
      const change = { tenant: t.tenant.id, name: 'acme.lead_captured' };
      await waitFor('the second instance to hear of the change', () => announced.length > 0);
      expect(announced).toEqual([change]);
      expect((await send()).status).toBe(202);
      expect((await send()).status).toBe(202);
      // one read of that name's versions after the message, none of the tenant's whole registry
      expect(nameReads.mock.calls).toEqual([[t.tenant.id, 'acme.lead_captured']]);
      expect(reads.mock.calls).toEqual([]);
      reads.mockRestore();
      nameReads.mockRestore();
    } finally {
      await second.close();
    }
  });
});

describe('quarantine mode', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
    await t.db.query(`UPDATE analytics_tenants SET validation_mode = 'quarantine' WHERE id = $1`, [t.tenant.id]);
    await t.post(
      SCHEMAS,
      {
        event_name: 'acme.lead_captured',
        version: '1-0-0',
        schema: { type: 'object', required: ['lead.score'], properties: { 'lead.score': { type: 'integer' } } },
      },
      t.tenant.admin,
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it('keeps failing events apart, then replays them once a fixed version is published, storing each exactly once', async () => {
    const lead = makeEvent({ event_name: 'acme.lead_captured', attributes: { 'lead.score': 7.5 } });
    const first = await t.post(EVENTS, lead);
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({
      status: 'quarantined',
      errors: [{ pointer: '/attributes/lead.score', keyword: 'type', schema: 'acme.lead_captured/1-0-0' }],
    });
    expect((await t.post(EVENTS, lead)).json.status).toBe('duplicate');
    // envelope errors are never quarantined: they could not be replayed
    expect((await t.post(EVENTS, makeEvent({ event_id: 'nope' }))).status).toBe(400);

    await drained(t.ingestQueue);
    const listed = await t.get('/api/v1/analytics/quarantine', t.tenant.admin);
    expect(listed.json.pending).toBe(1);
    expect(listed.json.events[0]).toMatchObject({
      event_id: lead.event_id,
      event_name: 'acme.lead_captured',
      errors: [{ keyword: 'type' }],
    });
    expect(await countRows(t.db)).toBe(0);

    // a replay before the fix changes nothing
    const noFix = await replay(t);
    expect(noFix).toEqual({ replayed: 0, stored: 0, still_invalid: 1 });

    // a REVISION that accepts numbers, then the replay stores it
    expect(
      (
        await t.post(
          SCHEMAS,
          {
            event_name: 'acme.lead_captured',
            version: '1-1-0',
            schema: { type: 'object', required: ['lead.score'], properties: { 'lead.score': { type: 'number' } } },
          },
          t.tenant.admin,
        )
      ).status,
    ).toBe(201);
    expect(await replay(t)).toEqual({ replayed: 1, stored: 1, still_invalid: 0 });
    expect(await replay(t)).toEqual({ replayed: 0, stored: 0, still_invalid: 0 });
    expect(await countRows(t.db, 'event_id = $1', [lead.event_id])).toBe(1);
    expect((await t.get('/api/v1/analytics/quarantine', t.tenant.admin)).json.pending).toBe(0);

    // another tenant cannot read this tenant's replay
    const other = await t.get('/api/v1/analytics/quarantine/replays/1', t.other.admin);
    expect(other.status).toBe(404);
  });
});

async function replay(t: TestEnv): Promise<unknown> {
  const started = await t.post('/api/v1/analytics/quarantine/replay', {}, t.tenant.admin);
  expect(started.status).toBe(202);
  let status: { state: string; result: unknown } = { state: '', result: null };
  await waitFor('the replay', async () => {
    status = (await t.get(started.json.status_url, t.tenant.admin)).json;
    return status.state === 'completed';
  });
  return status.result;
}
