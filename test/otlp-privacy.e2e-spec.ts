import Redis from 'ioredis';
import { Pool } from 'pg';
import { PLANTED } from './support/pii-corpus';
import { countRows, settled } from './support/queue';
import { exportWithSdk, LogSpec, SpanNode } from './support/otel';
import { createTestEnv, TestEnv } from './support/test-env';
import { runRole, startApiProcess } from './support/worker-process';

/** Every value under a Redis key prefix, whatever its type. */
async function redisDump(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

async function postgresDump(db: Pool): Promise<string> {
  const tables = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1`,
  );
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const r = await db.query(`SELECT coalesce(string_agg(row_to_json(x)::text, E'\\n'), '') AS j FROM "${name}" x`);
    parts.push(r.rows[0].j as string);
  }
  return parts.join('\n');
}

/**
 * Personal data planted in span attributes (message content, mapped attributes, free text) and in
 * log record bodies and attributes, sent by the OpenTelemetry SDK's exporters to an api and a
 * worker run as processes with debug logs on: none of it is found in any table, Redis key or value,
 * or log line, while the events carrying it are stored.
 */
describe('OTLP: no planted personal data reaches Postgres, Redis or a log line', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it(`sends ${PLANTED.length} planted values in spans and log records and finds none of them stored or logged`, async () => {
    const env = { ...t.env, ANALYTICS_DEBUG_MODE: 'true' };
    const worker = runRole('worker.js', env);
    const api = await startApiProcess(env);
    try {
      const b = Date.now() - 600_000;
      const spans: SpanNode[] = PLANTED.map((p, i) => ({
        name: `execute_tool lookup_${i}`,
        start: b + i * 1000,
        end: b + i * 1000 + 20,
        error: i % 5 === 0,
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.call.id': `call-${i}`,
          'gen_ai.tool.call.arguments': JSON.stringify({ who: p.value }),
          'gen_ai.tool.call.result': `found ${p.value}`,
          // A secret is found by the name it is kept under, not by its value: those go in content only.
          ...(p.kind === 'secret-key'
            ? {}
            : {
                'gen_ai.conversation.id': i % 2 ? `conversation of ${p.value}` : `conv-${i}`,
                ...(i % 5 === 0 ? { 'error.type': `failed for ${p.value}`.slice(0, 120) } : {}),
              }),
        },
        children: [
          {
            name: 'chat',
            start: b + i * 1000 + 1,
            end: b + i * 1000 + 10,
            attributes: {
              'gen_ai.operation.name': 'chat',
              'gen_ai.request.model': i % 3 || p.kind === 'secret-key' ? 'gpt-4o' : `model ${p.value}`.slice(0, 120),
              'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: `my details: ${p.value}` }]),
              'gen_ai.output.messages': `noted ${p.value}`,
              'gen_ai.system_instructions': `the user is ${p.value}`,
            },
          },
        ],
      }));
      const logs: LogSpec[] = PLANTED.map((p, i) => ({
        eventName: 'kb.search',
        timestamp: b + i,
        body: `user said ${p.value}`,
        attributes: {
          'kb.search_id': `s-${i}`,
          ...(p.kind === 'secret-key'
            ? { api_key: p.value, 'kb.query': 'pricing' }
            : { 'kb.query': `find ${p.value}` }),
          'kb.results_count': 1,
          'kb.latency_ms': 5,
          'gen_ai.input.messages': p.value,
          ...(i % 4 === 0 && p.kind !== 'secret-key' ? { 'user.id': p.value } : {}),
        },
      }));
      const batches = <T>(xs: T[]) =>
        Array.from({ length: Math.ceil(xs.length / 50) }, (_, k) => xs.slice(k * 50, k * 50 + 50));
      const traced = await exportWithSdk({
        url: api.base,
        key: t.tenant.ingest,
        encoding: 'protobuf',
        traces: batches(spans),
      });
      const logged = await exportWithSdk({
        url: api.base,
        key: t.tenant.ingest,
        encoding: 'json',
        logs: batches(logs),
      });
      expect([...traced.results, ...logged.results].every((r) => r.code === 0)).toBe(true);
      await settled(t, 60_000);
      // Every tool call stored twice (started, completed), every record once; model calls too, unless their model name was refused.
      expect(await countRows(t.db, `event_name IN ('ai.tool_call_started', 'ai.tool_call_completed')`)).toBe(
        2 * PLANTED.length,
      );
      expect(await countRows(t.db, `event_name = 'kb.search'`)).toBe(PLANTED.length);
      expect(await countRows(t.db, `event_name = 'ai.llm_call_completed'`)).toBeGreaterThan(0);
    } finally {
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      await Promise.all([api.closed, worker.closed]);
    }
    const stores = {
      postgres: await postgresDump(t.db),
      redis: await redisDump(t.redis, t.config.redis.prefix),
      logs: api.stdout + api.stderr + worker.stdout + worker.stderr,
    };
    expect(stores.logs).toContain('otlp traces:');
    const found: string[] = [];
    for (const p of PLANTED) {
      for (const [where, text] of Object.entries(stores))
        if (text.includes(p.value)) found.push(`${p.kind} ${JSON.stringify(p.value)} in ${where}`);
    }
    expect(found).toEqual([]);
  });
});
