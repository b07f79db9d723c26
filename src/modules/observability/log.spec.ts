import { Writable } from 'node:stream';
import { checkedLineWriter, createRootLogger } from './log';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('the root logger', () => {
  it("keeps the service's own configured addresses readable, and redacts any other", () => {
    const { lines, stream } = capture();
    const log = createRootLogger({ role: 'api', level: 'log', format: 'json', ownHosts: ['10.0.3.7'] }, stream);
    log.warn('Redis at 10.0.3.7:6379 (REDIS_URL) refused; client 203.0.113.9 retried');
    expect(lines[0].msg).toBe('Redis at 10.0.3.7:6379 (REDIS_URL) refused; client [redacted:ipv4] retried');
  });

  it('writes one JSON object per line with level, time and role', () => {
    const { lines, stream } = capture();
    const log = createRootLogger({ role: 'worker', level: 'log', format: 'json' }, stream);
    log.info({ job_id: 'j1', events: 3 }, 'job completed');
    log.debug('not written at level log');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', role: 'worker', job_id: 'j1', events: 3, msg: 'job completed' });
    expect(typeof lines[0].time).toBe('string');
  });

  it('passes every message, string field and error through the sanitizer', () => {
    const { lines, stream } = capture();
    const log = createRootLogger({ role: 'api', level: 'debug', format: 'json' }, stream);
    log.warn('event x rejected: jane.doe@example.com is not allowed');
    log.info({ note: 'card 4111 1111 1111 1111', request_id: 'r-1' }, 'request');
    log.error({ err: new Error('failed for +44 20 7946 0958') }, 'boom');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('jane.doe@example.com');
    expect(text).not.toContain('4111 1111 1111 1111');
    expect(text).not.toContain('7946 0958');
    expect(lines[0].msg).toBe('event x rejected: [redacted:email] is not allowed');
    expect(lines[1]).toMatchObject({ note: 'card [redacted:card]', request_id: 'r-1' });
    expect((lines[2].err as { message: string }).message).toMatch(/^failed for \[redacted:phone\]$/);
  });

  it("writes a request's line as the logger writes it, sanitizing any string field it does not know", () => {
    const raw: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        raw.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const log = createRootLogger({ role: 'api', level: 'log', format: 'json' }, stream);
    const line = checkedLineWriter(log, 'request');
    const fields = {
      request_id: 'r-1',
      tenant_id: 't-1',
      route: '/api/v1/analytics/events',
      status: 202,
      duration_ms: 1.5,
    };
    log.info(fields, 'request');
    line({ ...fields, trace_id: undefined });
    line({ request_id: 'r-2', note: 'mail jane.doe@example.com', duration_ms: Number.NaN });
    const strip = (l: string) => l.replace(/"time":"[^"]+"/, '"time":"T"');
    expect(strip(raw[1])).toBe(strip(raw[0]));
    expect(JSON.parse(raw[2])).toMatchObject({ request_id: 'r-2', note: 'mail [redacted:email]', duration_ms: null });
    expect(raw[2]).not.toContain('jane.doe');
    const quiet = createRootLogger({ role: 'api', level: 'warn', format: 'json' }, stream);
    checkedLineWriter(quiet, 'request')(fields);
    expect(raw).toHaveLength(3);
  });
});
