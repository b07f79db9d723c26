import { BATCH, makeEvent, waitFor } from './support/events';
import { countLedger, countRows, drained } from './support/queue';
import { TestEnv, createTestEnv } from './support/test-env';
import { runRole } from './support/worker-process';

describe('a worker that dies or fails never loses or doubles an event', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_WORKER_LOCK_MS: '1000', ANALYTICS_JOB_ATTEMPTS: '3' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('a worker killed (SIGKILL) in the middle of its insert: nothing half-written, and after the retry every event is stored exactly once', async () => {
    const worker = runRole('worker.js', { ...t.env, LOG_LEVEL: 'log' });
    await waitFor(
      'the worker process to start consuming',
      async () => worker.stdout.includes('Consuming queues'),
      20000,
    );

    // Hold today's partition so the worker's insert statement blocks.
    const partition = `analytics_events_raw_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    const blocker = await t.db.connect();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${partition} IN ACCESS EXCLUSIVE MODE`);

    const events = Array.from({ length: 30 }, () => makeEvent());
    const res = await t.post(BATCH, { events });
    expect(res.json.accepted).toBe(30);

    await waitFor('the worker to be blocked mid-insert', async () => {
      const r = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%analytics_dedupe_ledger%'`);
      return r.rows[0].n === 1;
    });
    worker.child.kill('SIGKILL');
    expect((await worker.exited).signal).toBe('SIGKILL');
    await blocker.query('ROLLBACK');
    blocker.release();

    // The orphaned backend finishes or aborts the one statement, which is atomic either way:
    // all 30 events with their 30 ledger entries, or none of either, never a part.
    await waitFor("the dead worker's backend to go", async () => {
      const r = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'analytics-service' AND pid <> pg_backend_pid()`);
      return r.rows[0].n === 0;
    });
    const orphaned = await countRows(t.db);
    console.log(`the killed worker's statement left ${orphaned} of 30 events`);
    expect([0, 30]).toContain(orphaned);
    expect(await countLedger(t.db)).toBe(orphaned);

    // A new worker finds the stalled job and runs it again.
    await t.startWorker();
    await waitFor('the retried job to store the events', async () => (await countRows(t.db)) === 30, 20000);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(30);
    expect(await countLedger(t.db)).toBe(30);

    const again = await t.post(BATCH, { events });
    expect(again.json.duplicate).toBe(30);
    await drained(t.ingestQueue);
    expect(await countRows(t.db)).toBe(30);
    await t.stopWorker();
  });

  it('a job that keeps failing retries with backoff, rests in the failed set shown by Bull Board, and stores once when retried', async () => {
    await t.startWorker();
    await t.db.query('ALTER TABLE analytics_dedupe_ledger RENAME TO analytics_dedupe_ledger_away');
    const events = Array.from({ length: 5 }, () => makeEvent());
    expect((await t.post(BATCH, { events })).json.accepted).toBe(5);

    await waitFor(
      'the job to exhaust its attempts',
      async () => (await t.ingestQueue.getJobCounts('failed')).failed === 1,
      20000,
    );
    const board = await t.get('/admin/queues/api/queues?activeQueue=ingest&status=failed', t.operator.admin);
    expect(board.status).toBe(200);
    const ingest = board.json.queues.find((q: { name: string }) => q.name === 'ingest');
    expect(ingest.counts.failed).toBe(1);
    expect(ingest.jobs[0]).toMatchObject({ name: 'persist-events', attempts: 3 });
    expect(ingest.jobs[0].failedReason).toMatch(/analytics_dedupe_ledger" does not exist/);
    expect(await countRows(t.db)).toBe(30);

    await t.db.query('ALTER TABLE analytics_dedupe_ledger_away RENAME TO analytics_dedupe_ledger');
    const retry = await fetch(`${t.url}/admin/queues/api/queues/ingest/${ingest.jobs[0].id}/retry`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.operator.admin}` },
    });
    expect(retry.status).toBe(204);
    await waitFor('the retried job to complete', async () => (await countRows(t.db)) === 35, 20000);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(5);
    expect((await t.ingestQueue.getJobCounts('failed')).failed).toBe(0);
  });
});
