import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { AdmissionStore } from '../src/modules/ingestion/admission.store';
import { QueueName } from '../src/modules/contracts/jobs';
import { EVENTS, makeEvent } from './support/events';
import { countLedger, countRows, drained } from './support/queue';
import { TcpProxy } from './support/tcp-proxy';
import { HttpAnswer, TestEnv, createTestEnv } from './support/test-env';

/**
 * Each window between the dedupe claim and the job in Redis, forced: the client's retry of the
 * same event is stored exactly once and is never answered `duplicate` for an event that is not
 * stored or queued.
 */
describe('acknowledged means stored: the windows between the claim and the enqueue', () => {
  const redis = new TcpProxy('127.0.0.1', 6379);
  let t: TestEnv;
  let queue: Queue;
  beforeAll(async () => {
    await redis.start();
    t = await createTestEnv({ REDIS_URL: `redis://127.0.0.1:${redis.port}` });
    queue = t.api!.get<Queue>(getQueueToken(QueueName.Ingest));
  });
  afterAll(async () => {
    await t.close();
    await redis.cut();
  });
  afterEach(() => jest.restoreAllMocks());

  /** The at-least-once client: the same event again on 503, until it has a final verdict. */
  async function sendUntilAnswered(event: Record<string, unknown>): Promise<HttpAnswer[]> {
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await t.post(EVENTS, event);
      answers.push(res);
      if (res.status !== 503) return answers;
    }
    throw new Error(`no final answer after 20 tries: ${answers.map((a) => a.status).join(', ')}`);
  }

  const storedOnce = async (event: Record<string, unknown>) => {
    await drained(t.ingestQueue);
    expect(await countRows(t.db, 'event_id = $1', [event.event_id])).toBe(1);
    expect(await countLedger(t.db, 'event_id = $1', [event.event_id])).toBe(1);
  };

  it('a request that dies after the claim and before the job (no claim given back): the retry is accepted and stored once', async () => {
    const e = makeEvent();
    // The process "dies" there: the job is never added and the claim is never given back.
    const add = jest.spyOn(queue, 'add').mockRejectedValueOnce(new Error('process killed'));
    jest.spyOn(t.api!.get(AdmissionStore), 'release').mockRejectedValueOnce(new Error('process killed'));
    const first = await t.post(EVENTS, e);
    expect(first.status).toBe(503);
    expect(add).toHaveBeenCalledTimes(1);
    expect(await t.redis.exists(`${t.config.redis.prefix}:dedupe:${String(e.tenant_id)}:${String(e.event_id)}`)).toBe(
      1,
    );
    jest.restoreAllMocks();
    const answers = await sendUntilAnswered(e);
    expect(answers.map((a) => a.status)).toEqual([202]);
    expect(answers[0].json.status).toBe('accepted');
    await storedOnce(e);
    // from now on, a repeat is a duplicate: the claim names a job that is in Redis or stored
    expect((await t.post(EVENTS, e)).json.status).toBe('duplicate');
  });

  it('an enqueue that fails after the claim: the claim is given back, the retry is accepted and stored once', async () => {
    const e = makeEvent();
    jest.spyOn(queue, 'add').mockRejectedValueOnce(new Error('queue add timed out'));
    expect((await t.post(EVENTS, e)).status).toBe(503);
    expect(await t.redis.exists(`${t.config.redis.prefix}:dedupe:${String(e.tenant_id)}:${String(e.event_id)}`)).toBe(
      0,
    );
    jest.restoreAllMocks();
    const answers = await sendUntilAnswered(e);
    expect(answers.map((a) => a.json.status)).toEqual(['accepted']);
    await storedOnce(e);
  });

  it('Redis runs the claim but the connection drops before its answer: the retry is accepted, never a duplicate, and stored once', async () => {
    await sendUntilAnswered(makeEvent()); // the admission script is loaded in Redis (EVALSHA finds it)
    const e = makeEvent();
    const dropped = redis.dropAnswerTo(String(e.event_id));
    const answers = await sendUntilAnswered(e);
    await dropped;
    // the claim was made in Redis, though the api never heard of it
    const last = answers[answers.length - 1];
    expect(last.status).toBe(202);
    expect(last.json.status).toBe('accepted');
    expect(answers.every((a) => a.status === 503 || a === last)).toBe(true);
    await storedOnce(e);
  });
});
