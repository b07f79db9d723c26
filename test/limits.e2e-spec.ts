import { BATCH, EVENTS, makeEvent, waitFor } from './support/events';
import { countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';

const HOUR = 3_600_000;

describe('limits and bad input: a 4xx that names the problem, nothing stored', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({
      ANALYTICS_MAX_BATCH_SIZE: '10',
      ANALYTICS_MAX_PAYLOAD_KB: '16',
      ANALYTICS_RETENTION_DAYS: '30',
    });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Events this file sent to be stored: the sentinels, and those it expects accepted. */
  const meantToStore: string[] = [];
  /**
   * After a refusal: an accepted sentinel event, sent after it, is stored and the queue is drained,
   * so anything the refused request had queued would be stored by now. Returns the rows stored of
   * `ids` (the refused request's events), and checks that nothing else but what was meant to be stored is.
   */
  async function storedAfterRefusal(ids: unknown[]): Promise<number> {
    const sentinel = makeEvent();
    meantToStore.push(String(sentinel.event_id));
    expect((await t.post(EVENTS, sentinel)).json.status).toBe('accepted');
    await waitFor(
      'the sentinel event',
      async () => (await countRows(t.db, 'event_id = $1', [sentinel.event_id])) === 1,
    );
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'NOT (event_id::text = ANY($1::text[]))', [meantToStore])).toBe(0);
    return countRows(t.db, 'event_id::text = ANY($1::text[])', [ids.map(String)]);
  }

  const invalid: [string, Record<string, unknown>, RegExp, string][] = [
    ['bad UUID', { event_id: 'not-a-uuid' }, /\/event_id must be a UUID/, '/event_id'],
    ['bad tenant UUID', { tenant_id: '1234' }, /\/tenant_id must be a UUID/, '/tenant_id'],
    ['unknown source', { source: 'fax' }, /\/source must be one of web, widget, voice_ws, server/, '/source'],
    ['missing field', { event_name: undefined }, /\/event_name is required/, '/event_name'],
    ['non-object attributes', { attributes: ['a'] }, /\/attributes must be an object/, '/attributes'],
    ['string attributes', { attributes: 'x' }, /\/attributes must be an object/, '/attributes'],
    ['event name not dotted', { event_name: 'TurnStarted' }, /\/event_name must be dotted lower-case/, '/event_name'],
    [
      'timestamp without zone',
      { occurred_at: '2026-11-28T10:00:00' },
      /\/occurred_at must be an RFC 3339 date-time/,
      '/occurred_at',
    ],
    [
      'too far in the future',
      { occurred_at: new Date(Date.now() + 25 * HOUR).toISOString() },
      /\/occurred_at is 25 h in the future; at most 24 h of clock skew is tolerated/,
      '/occurred_at',
    ],
    [
      'older than retention',
      { occurred_at: new Date(Date.now() - 31 * 24 * HOUR).toISOString() },
      /\/occurred_at is older than the retention window of 30 days/,
      '/occurred_at',
    ],
    ['unknown top-level field', { colour: 'red' }, /\/colour is not a known field/, '/colour'],
    ['NUL byte', { attributes: { q: 'a\u0000b' } }, /\/attributes\/q contains a NUL character/, '/attributes/q'],
    [
      'NUL byte in a key',
      { attributes: { 'a\u0000': 1 } },
      /property name at .* contains a NUL character/,
      '/attributes/a\ufffd',
    ],
    [
      'lone surrogate',
      { attributes: { q: 'x\ud800y' } },
      /\/attributes\/q contains an unpaired UTF-16 surrogate/,
      '/attributes/q',
    ],
    [
      'deep nesting',
      { attributes: JSON.parse('{"a":'.repeat(20) + '1' + '}'.repeat(20)) },
      /is nested more than 16 levels deep/,
      '',
    ],
    [
      'bad viewport',
      { context: { device: { viewport: { width: -1, height: 2 } } } },
      /\/context\/device\/viewport\/width must be >= 0/,
      '/context/device/viewport/width',
    ],
  ];

  it.each(invalid)('%s → 400 naming the field', async (_label, override, message, pointer) => {
    const event = makeEvent(override);
    for (const [k, v] of Object.entries(override)) if (v === undefined) delete event[k];
    const res = await t.post(EVENTS, event);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({
      type: expect.stringMatching(/invalid-event$/),
      status: 400,
      title: 'Invalid event',
    });
    expect(res.json.detail).toMatch(message);
    if (pointer) expect(res.json.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    else expect(res.json.errors[0].keyword).toBe('maxDepth');
    expect(await storedAfterRefusal([event.event_id])).toBe(0);
  });

  it('a too-big batch → 413 naming the limit and its variable', async () => {
    const events = Array.from({ length: 11 }, () => makeEvent({ attributes: {} }));
    const res = await t.post(BATCH, { events });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ status: 413, title: 'Batch too large', limit: 10 });
    expect(res.json.detail).toBe(
      '/events holds 11 events; the limit is 10 (ANALYTICS_MAX_BATCH_SIZE). Split the batch.',
    );
    expect(await storedAfterRefusal(events.map((e) => e.event_id))).toBe(0);
  });

  it('a too-big body → 413 before parsing, naming the limit', async () => {
    const event = makeEvent({ attributes: { blob: 'x'.repeat(17 * 1024) } });
    const res = await t.post(EVENTS, event);
    expect(res.status).toBe(413);
    expect(res.json.detail).toBe(
      'The body is larger than 16 KB, the limit set by ANALYTICS_MAX_PAYLOAD_KB. Split the batch.',
    );
    expect(await storedAfterRefusal([event.event_id])).toBe(0);
  });

  it('invalid JSON → 400 invalid-json', async () => {
    const res = await t.post(EVENTS, '{"event_id": ');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ title: 'Invalid JSON' });
    expect(res.json.detail).toMatch(/^The body is not valid JSON/);
    expect(await storedAfterRefusal([])).toBe(0);
  });

  it('a body that is not JSON → 415', async () => {
    const res = await fetch(`${t.url}${EVENTS}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/Content-Type: application\/json/);
    expect(await storedAfterRefusal([])).toBe(0);
  });

  it.each([
    ['a JSON array', [], /must be a JSON object/],
    ['a number', 42, /must be a JSON object/],
    ['null', null, /must be a JSON object/],
  ])('a single event that is %s → 400', async (_l, body, msg) => {
    const res = await t.post(EVENTS, body);
    expect(res.status).toBe(400);
    expect(res.json.detail).toMatch(msg);
    expect(await storedAfterRefusal([])).toBe(0);
  });

  it.each([
    ['no events field', { batch_id: 'x' }, '/events is required and must be an array of events.'],
    ['events not an array', { events: {} }, '/events is required and must be an array of events.'],
    ['empty events', { events: [] }, '/events is empty; send at least one event.'],
    [
      'unknown field',
      { events: [makeEvent()], extra: 1 },
      'Unknown field(s) in the batch: "extra"; expected events and batch_id.',
    ],
    [
      'batch_id not a string',
      { events: [makeEvent()], batch_id: 7 },
      '/batch_id must be a string of 1 to 128 characters.',
    ],
  ])('a malformed batch (%s) → 400 naming it', async (_l, body, detail) => {
    const res = await t.post(BATCH, body);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ title: 'Invalid batch', detail });
    const events = 'events' in body && Array.isArray(body.events) ? body.events : [];
    expect(await storedAfterRefusal(events.map((e: Record<string, unknown>) => e.event_id))).toBe(0);
  });

  it('a batch of only invalid events is answered per event, nothing stored', async () => {
    const invalid = makeEvent({ source: 'x' });
    const res = await t.post(BATCH, { events: [invalid, 'str', null] });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ received: 3, accepted: 0, rejected: 3 });
    expect(res.json.results[1].errors[0].message).toBe('the event must be a JSON object');
    expect(await storedAfterRefusal([invalid.event_id])).toBe(0);
  });

  it('accepts an event just inside both windows', async () => {
    const near = makeEvent({ occurred_at: new Date(Date.now() + 23 * HOUR).toISOString() });
    const old = makeEvent({ occurred_at: new Date(Date.now() - 29 * 24 * HOUR).toISOString() });
    meantToStore.push(String(near.event_id), String(old.event_id));
    const res = await t.post(BATCH, { events: [near, old] });
    expect(res.json).toMatchObject({ accepted: 2 });
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [[near.event_id, old.event_id]])).toBe(2);
  });
});
