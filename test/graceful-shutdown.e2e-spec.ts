import { randomUUID } from 'node:crypto';
import { connect, Socket } from 'node:net';
import { BATCH, EVENTS, TENANT, makeEvent, waitFor } from './support/events';
import { storedEvent } from './support/stored-event';
import { countLedger, countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';
import { runRole, startApiProcess } from './support/worker-process';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/**
 * One POST over its own socket, sent in steps: the headers with `Expect: 100-continue` first, so
 * that the server's "100 Continue" proves it has taken the request (it is in flight), then the
 * body, whole or in parts. `answer` is the final answer; `closed` resolves when the server ends
 * the connection.
 */
function rawPost(port: number, path: string, key: string, body: string) {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let resolveContinue!: () => void;
  let resolveAnswer!: (a: RawAnswer) => void;
  let rejectAnswer!: (e: Error) => void;
  const continued = new Promise<void>((r) => (resolveContinue = r));
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    resolveAnswer = resolve;
    rejectAnswer = reject;
  });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  let answered = false;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const c = line.indexOf(':');
        headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      if (status === 100) {
        buf = buf.subarray(end + 4);
        resolveContinue();
        continue;
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) return;
      const text = buf.subarray(end + 4, end + 4 + length).toString('utf8');
      buf = buf.subarray(end + 4 + length);
      answered = true;
      resolveAnswer({ status, headers, body: text ? JSON.parse(text) : null });
    }
  });
  socket.on('error', (err) => rejectAnswer(err));
  socket.on('close', () => {
    if (!answered) rejectAnswer(new Error(`connection closed without an answer to ${path}`));
  });
  const bytes = Buffer.from(body);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${key}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${bytes.length}\r\nExpect: 100-continue\r\n\r\n`,
  );
  return {
    continued,
    answer,
    closed,
    send: (part: Buffer) => new Promise<void>((r) => socket.write(part, () => r())),
    bytes,
    destroy: () => socket.destroy(),
  };
}

const ids = (events: object[]) => events.map((e) => (e as { event_id: string }).event_id);

describe('graceful shutdown', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
  });
  afterAll(async () => {
    await t.close();
  });
  /** The spawned roles log at `log`: the test waits for their shutdown lines. */
  const roleEnv = () => ({ ...t.env, LOG_LEVEL: 'log' });

  it('an api receiving SIGTERM with 50 batches in flight, half of them still sending their bodies, answers every one 202, then exits 0; every event is stored once', async () => {
    const api = await startApiProcess(roleEnv());
    const port = Number(new URL(api.base).port);
    // An idle keep-alive connection: closed by the server at the signal, not left open to the end.
    const idle = rawPost(port, EVENTS, t.tenant.ingest, JSON.stringify(makeEvent()));
    await idle.continued;
    await idle.send(idle.bytes);
    expect((await idle.answer).status).toBe(202);

    const batches = Array.from({ length: 50 }, () => Array.from({ length: 4 }, () => makeEvent()));
    const posts = batches.map((events) => rawPost(port, BATCH, t.tenant.ingest, JSON.stringify({ events })));
    await Promise.all(posts.map((p) => p.continued)); // all 50 taken by the server
    const whole = posts.slice(0, 25);
    const halves = posts.slice(25);
    await Promise.all(whole.map((p) => p.send(p.bytes)));
    await Promise.all(halves.map((p) => p.send(p.bytes.subarray(0, p.bytes.length >> 1))));

    api.child.kill('SIGTERM');
    await waitFor('the api to start draining', () => /Draining \d+ request\(s\) in flight/.test(api.stdout));
    await idle.closed;
    const inFlight = Number(/Draining (\d+) request\(s\) in flight/.exec(api.stdout)![1]);
    // The 25 halves cannot have been answered before the signal; of the whole ones, some may have been.
    expect(inFlight).toBeGreaterThanOrEqual(25);
    expect(inFlight).toBeLessThanOrEqual(50);
    await Promise.all(halves.map((p) => p.send(p.bytes.subarray(p.bytes.length >> 1))));

    const answers = await Promise.all(posts.map((p) => p.answer));
    expect(answers.map((a) => [a.status, a.body.accepted, a.body.rejected])).toEqual(batches.map(() => [202, 4, 0]));
    // Answered during shutdown: each connection closes after its answer.
    for (const a of await Promise.all(halves.map((p) => p.answer))) expect(a.headers.connection).toBe('close');
    await Promise.all(posts.map((p) => p.closed));

    const { code, signal } = await api.exited;
    await api.closed;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const output = api.stdout + api.stderr;
    expect(output).not.toMatch(/Cannot use a pool/);
    expect(output).toMatch(new RegExp(`Drained: ${inFlight} request\\(s\\) answered during shutdown`));
    expect(output).toMatch(/Shut down/);

    await t.startWorker();
    await drained(t.ingestQueue);
    await t.stopWorker();
    const all = batches.flatMap(ids);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [all])).toBe(200);
    expect(await countLedger(t.db)).toBe(201); // the 200 and the idle connection's event
  });

  it('single events waiting to be grouped at SIGTERM are answered and stored', async () => {
    // Groups are at most one per second: after a first flush, the next events wait for the linger.
    // A grace shorter than the linger: unless the waiting group is sent at the signal, its answers would come too late.
    const api = await startApiProcess({
      ...roleEnv(),
      ANALYTICS_BATCH_LINGER_MS: '1000',
      ANALYTICS_SHUTDOWN_GRACE_MS: '500',
    });
    const port = Number(new URL(api.base).port);
    const first = rawPost(port, EVENTS, t.tenant.ingest, JSON.stringify(makeEvent()));
    await first.continued;
    await first.send(first.bytes);
    expect((await first.answer).status).toBe(202);

    const events = Array.from({ length: 10 }, () => makeEvent());
    const posts = events.map((e) => rawPost(port, EVENTS, t.tenant.ingest, JSON.stringify(e)));
    await Promise.all(posts.map((p) => p.continued));
    await Promise.all(posts.map((p) => p.send(p.bytes)));
    let answeredBeforeSignal = 0;
    for (const p of posts)
      void p.answer.then(
        () => answeredBeforeSignal++,
        () => undefined,
      );
    api.child.kill('SIGTERM');
    const signalledWith = answeredBeforeSignal;

    const answers = await Promise.all(posts.map((p) => p.answer));
    expect(signalledWith).toBe(0);
    expect(answers.map((a) => [a.status, a.body])).toEqual(
      events.map((e) => [202, { index: 0, event_id: e.event_id, status: 'accepted' }]),
    );
    const { code, signal } = await api.exited;
    await api.closed;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(api.stdout + api.stderr).not.toMatch(/Cannot use a pool/);

    await t.startWorker();
    await drained(t.ingestQueue);
    await t.stopWorker();
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [ids(events)])).toBe(10);
  });

  it('a request whose body never comes is cut off at the grace, and the api still exits 0', async () => {
    const api = await startApiProcess({ ...roleEnv(), ANALYTICS_SHUTDOWN_GRACE_MS: '300' });
    const port = Number(new URL(api.base).port);
    const stuck = rawPost(port, BATCH, t.tenant.ingest, JSON.stringify({ events: [makeEvent()] }));
    await stuck.continued;
    await stuck.send(stuck.bytes.subarray(0, 10));
    api.child.kill('SIGTERM');
    await expect(stuck.answer).rejects.toThrow(/connection closed without an answer/);
    const { code } = await api.exited;
    await api.closed;
    expect(code).toBe(0);
    expect(api.stdout).toMatch(
      /Grace of 300 ms \(ANALYTICS_SHUTDOWN_GRACE_MS\) over: 0 request\(s\) answered, 1 cut off/,
    );
    expect(api.stdout + api.stderr).not.toMatch(/Cannot use a pool/);
  });

  it('a worker receiving SIGTERM while a job is active finishes the job, then exits 0', async () => {
    const worker = runRole('worker.js', { ...roleEnv(), ANALYTICS_WORKER_LOCK_MS: '30000' });
    await waitFor('the worker to consume', () => worker.stdout.includes('Consuming queues'), 20000);
    // Hold today's partition: the worker's insert of the job's events waits on the test's lock.
    const partition = `analytics_events_raw_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    const blocker = await t.db.connect();
    let released = false;
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE ${partition} IN ACCESS EXCLUSIVE MODE`);
      const now = new Date().toISOString();
      const events = Array.from({ length: 5 }, () =>
        storedEvent({ event_id: randomUUID(), tenant_id: TENANT, occurred_at: now, received_at: now }),
      );
      const before = (await t.ingestQueue.getJobCounts('completed')).completed;
      await t.ingestQueue.add('persist-events', { events });
      await waitFor('the job to block on the lock', async () => {
        const r = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%analytics_dedupe_ledger%'`);
        return r.rows[0].n === 1;
      });
      expect((await t.ingestQueue.getJobCounts('active')).active).toBe(1);

      worker.child.kill('SIGTERM');
      await waitFor('the worker to stop taking jobs', () =>
        /Taking no new jobs; waiting for 1 active job/.test(worker.stdout),
      );
      await blocker.query('COMMIT');
      released = true;

      const { code, signal } = await worker.exited;
      await worker.closed;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(worker.stdout).toMatch(/Active jobs finished; job workers closed/);
      expect(worker.stdout + worker.stderr).not.toMatch(/Cannot use a pool|failed/);
      const counts = await t.ingestQueue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed');
      expect(counts).toEqual({ completed: before + 1, failed: 0, active: 0, waiting: 0, delayed: 0, paused: 0 });
      expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [ids(events)])).toBe(5);
    } finally {
      if (!released) await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  });
});
