import { BATCH, makeEvent, waitFor } from './support/events';
import { countLedger, countRows, drained, settled } from './support/queue';
import { countStored, rollupRows } from './support/stored';
import { TestEnv, createTestEnv } from './support/test-env';
import { runRole } from './support/worker-process';

const ALL_SITES = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

describe('a worker that dies or fails never loses or doubles an event', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({ ANALYTICS_WORKER_LOCK_MS: '1000', ANALYTICS_JOB_ATTEMPTS: '3' }, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  /**
   * Starts a worker process, blocks its insert of 30 events on a lock the test holds, and kills it
   * (SIGKILL) there. Its backend, orphaned, still waits on the lock: `release` ends the test's
   * transaction, after which the backend goes on with the statement.
   */
  async function killMidInsert() {
    const worker = runRole('worker.js', { ...t.env, LOG_LEVEL: 'log' });
    await waitFor('the worker process to start consuming', () => worker.stdout.includes('Consuming queues'), 20000);

    // Hold today's partition so the worker's insert statement blocks.
    const partition = `analytics_events_raw_p${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    const blocker = await t.db.connect();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${partition} IN ACCESS EXCLUSIVE MODE`);

    const events = Array.from({ length: 30 }, () => makeEvent());
    const res = await t.post(BATCH, { events });
    expect(res.json.accepted).toBe(30);

    let orphan = 0;
    await waitFor('the worker to be blocked mid-insert', async () => {
      const r = await t.db.query(`SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%analytics_dedupe_ledger%'`);
      if (r.rows.length === 1) orphan = r.rows[0].pid;
      return r.rows.length === 1;
    });
    worker.child.kill('SIGKILL');
    expect((await worker.exited).signal).toBe('SIGKILL');
    const release = async () => {
      await blocker.query('ROLLBACK');
      blocker.release();
    };
    const gone = () =>
      waitFor("the dead worker's backend to go", async () => {
        const r = await t.db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [orphan]);
        return r.rows[0].n === 0;
      });
    const ids = events.map((e) => e.event_id);
    const stored = () => countRows(t.db, 'event_id = ANY($1::uuid[])', [ids]);
    const ledger = async () =>
      (
        await t.db.query('SELECT count(*)::int AS n FROM analytics_dedupe_ledger WHERE event_id = ANY($1::uuid[])', [
          ids,
        ])
      ).rows[0].n;
    return { events, orphan, release, gone, stored, ledger };
  }

  /** A new worker finds the stalled job and runs it again; its outcome. */
  async function retryStalledJob(): Promise<{ inserted: number; duplicates: number }> {
    const before = await t.ingestQueue.getJobs(['completed']);
    await t.startWorker();
    await waitFor(
      'the stalled job to complete',
      async () => (await t.ingestQueue.getJobCounts('completed')).completed === before.length + 1,
      20000,
    );
    await drained(t.ingestQueue);
    await t.stopWorker();
    const seen = new Set(before.map((j) => j.id));
    const [job] = (await t.ingestQueue.getJobs(['completed'])).filter((j) => !seen.has(j.id));
    return job.returnvalue as { inserted: number; duplicates: number };
  }

  it('a worker killed (SIGKILL) in the middle of its insert, its backend terminated before it commits: nothing stored, and the retry stores every event once', async () => {
    const k = await killMidInsert();
    // The orphaned backend is ended while its statement still waits on the lock: it never commits.
    expect((await t.db.query('SELECT pg_terminate_backend($1) AS ok', [k.orphan])).rows[0].ok).toBe(true);
    await k.gone();
    await k.release();
    expect(await k.stored()).toBe(0);
    expect(await k.ledger()).toBe(0);

    expect(await retryStalledJob()).toEqual({ inserted: 30, duplicates: 0 });
    expect(await k.stored()).toBe(30);
    expect(await k.ledger()).toBe(30);

    await t.startWorker();
    const again = await t.post(BATCH, { events: k.events });
    expect(again.json.duplicate).toBe(30);
    await drained(t.ingestQueue);
    await t.stopWorker();
    expect(await k.stored()).toBe(30);
  });

  it('a worker killed (SIGKILL) in the middle of its insert, its backend let go: the statement commits all 30, and the retry stores none twice', async () => {
    // A backend whose client is gone finishes its statement unless it checks the connection meanwhile.
    expect((await t.db.query('SHOW client_connection_check_interval')).rows[0].client_connection_check_interval).toBe(
      '0',
    );
    const k = await killMidInsert();
    await k.release();
    await k.gone();
    // The one statement is atomic: all 30 events with their 30 ledger entries.
    expect(await k.stored()).toBe(30);
    expect(await k.ledger()).toBe(30);

    expect(await retryStalledJob()).toEqual({ inserted: 0, duplicates: 30 });
    expect(await k.stored()).toBe(30);
    expect(await k.ledger()).toBe(30);
    expect(await countLedger(t.db)).toBe(await countRows(t.db));
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
    expect(await countRows(t.db)).toBe(60); // the 30 events of each test above

    await t.db.query('ALTER TABLE analytics_dedupe_ledger_away RENAME TO analytics_dedupe_ledger');
    const retry = await fetch(`${t.url}/admin/queues/api/queues/ingest/${ingest.jobs[0].id}/retry`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${t.operator.admin}` },
    });
    expect(retry.status).toBe(204);
    await waitFor('the retried job to complete', async () => (await countRows(t.db)) === 65, 20000);
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = ANY($1::uuid[])', [events.map((e) => e.event_id)])).toBe(5);
    expect((await t.ingestQueue.getJobCounts('failed')).failed).toBe(0);
  });
});

/**
 * The same promise on ClickHouse, where the worker's writes are two: the persist job's one Postgres
 * statement (ledger and outbox, atomic as above), then the shipment of the outbox to ClickHouse,
 * which no Postgres transaction covers. The worker is killed there, after ClickHouse took the
 * events (and, in the second case, the rollup deltas too) but before Postgres committed the end of
 * the shipment: the next worker resumes it and writes nothing twice.
 */
describe.each(['clickhouse', 'clickhouse-sharded'] as const)(
  'a worker killed while it ships to ClickHouse never loses or doubles an event (%s)',
  (storage) => {
    let t: TestEnv;
    beforeAll(async () => {
      t = await createTestEnv({}, { worker: false, storage });
    });
    afterAll(async () => {
      await t.close();
    });

    const lockWaiter = async (like: string) =>
      (
        await t.db.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
          [like],
        )
      ).rows.map((r) => r.pid as number);

    /** The ClickHouse rows of the rollup deltas, all shipments of this file. */
    const rollupDeltaRows = async () =>
      Number(
        (
          await t.ch!.query<{ n: string }>(
            `SELECT count() AS n FROM ${t.ch!.database}.rollups WHERE block LIKE 'ship-%'`,
          )
        )[0].n,
      );

    /**
     * Starts a worker process, blocks the fold of its shipment on a lock the test holds (after its
     * ClickHouse insert of the events; with `after: 'rollups'`, after the rollup deltas too) and
     * kills it there (SIGKILL); its orphaned Postgres backend is ended before it can commit.
     */
    async function killMidShipment(after: 'events' | 'rollups') {
      const members = await t.db.connect();
      await members.query('BEGIN');
      await members.query('LOCK TABLE analytics_rollup_members IN SHARE MODE');
      const worker = runRole('worker.js', { ...t.env, LOG_LEVEL: 'log' });
      await waitFor('the worker process to start consuming', () => worker.stdout.includes('Consuming queues'), 20000);
      // Views with a session each: the fold records a distinct member per event, and waits on the lock.
      const events = Array.from({ length: 30 }, () => makeEvent({ event_name: 'commerce.view' }));
      const res = await t.post(BATCH, { events });
      expect(res.json.accepted).toBe(30);
      let orphan: number[] = [];
      await waitFor('the shipment to wait on the members lock', async () => {
        orphan = await lockWaiter('%INSERT INTO analytics_rollup_members%');
        return orphan.length === 1;
      });
      let rows: typeof members | null = null;
      if (after === 'rollups') {
        // Hold the outbox rows, then let the fold go on: it writes its deltas and waits on the rows.
        rows = await t.db.connect();
        await rows.query('BEGIN');
        const held = await rows.query(
          'SELECT 1 FROM analytics_rollup_pending WHERE event_id = ANY($1::uuid[]) FOR SHARE',
          [events.map((e) => e.event_id)],
        );
        expect(held.rowCount).toBe(30);
        await members.query('ROLLBACK');
        await waitFor('the shipment to wait on the outbox rows', async () => {
          orphan = await lockWaiter('%DELETE FROM analytics_rollup_pending WHERE block%');
          return orphan.length === 1;
        });
      }
      worker.child.kill('SIGKILL');
      expect((await worker.exited).signal).toBe('SIGKILL');
      expect((await t.db.query('SELECT pg_terminate_backend($1) AS ok', [orphan[0]])).rows[0].ok).toBe(true);
      await waitFor("the dead worker's backend to go", async () => {
        const r = await t.db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [orphan[0]]);
        return r.rows[0].n === 0;
      });
      if (after === 'events') await members.query('ROLLBACK');
      members.release();
      if (rows) {
        await rows.query('ROLLBACK');
        rows.release();
      }
      const ids = events.map((e) => e.event_id);
      const pending = async () =>
        (
          await t.db.query(
            'SELECT count(*)::int AS n, count(block)::int AS claimed FROM analytics_rollup_pending WHERE event_id = ANY($1::uuid[])',
            [ids],
          )
        ).rows[0];
      return { events, ids, pending };
    }

    /** The rollup count of the views' conversion rate (distinct sessions), all days, every site and source. */
    const viewSessions = async () =>
      (await rollupRows(t, 'd'))
        .filter((r) => r.metric === 'commerce.conversion_rate' && r.site_id === ALL_SITES && r.source === '*')
        .reduce((n, r) => n + r.count, 0);

    it('killed after ClickHouse took the events, before Postgres ended the shipment: the next worker resumes it and stores none twice', async () => {
      const k = await killMidShipment('events');
      expect(await countStored(t, { eventIds: k.ids })).toBe(30); // in ClickHouse already
      expect(await k.pending()).toEqual({ n: 30, claimed: 30 }); // and still claimed in the outbox
      expect(await rollupDeltaRows()).toBe(0);
      expect(await countLedger(t.db)).toBe(30);

      await t.startWorker();
      await settled(t);
      expect(await countStored(t, { eventIds: k.ids })).toBe(30);
      expect(await k.pending()).toEqual({ n: 0, claimed: 0 });
      expect(await viewSessions()).toBe(30);

      const again = await t.post(BATCH, { events: k.events });
      expect(again.json.duplicate).toBe(30);
      await settled(t);
      await t.stopWorker();
      expect(await countStored(t)).toBe(30);
      expect(await viewSessions()).toBe(30);
    });

    it('killed after ClickHouse took the events and the rollup deltas: the resumed shipment writes neither again', async () => {
      const k = await killMidShipment('rollups');
      expect(await countStored(t, { eventIds: k.ids })).toBe(30);
      expect(await k.pending()).toEqual({ n: 30, claimed: 30 });
      const deltas = await rollupDeltaRows();
      expect(deltas).toBeGreaterThan(0);
      expect(await viewSessions()).toBe(60); // the deltas of the dead round are in ClickHouse

      await t.startWorker();
      await settled(t);
      await t.stopWorker();
      expect(await countStored(t, { eventIds: k.ids })).toBe(30);
      expect(await countStored(t)).toBe(60);
      expect(await k.pending()).toEqual({ n: 0, claimed: 0 });
      expect(await rollupDeltaRows()).toBe(deltas);
      expect(await viewSessions()).toBe(60);
      expect(await countLedger(t.db)).toBe(await countStored(t));
    });
  },
);
