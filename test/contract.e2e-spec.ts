import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { checkAnswer, checkedAnswers, takeContractViolations } from './support/contract';
import { EVENTS, makeEvent } from './support/events';
import { createTestEnv, TestEnv } from './support/test-env';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const PROBLEM = { type: 'https://analytics.dev/problems/x', title: 'X', status: 400, detail: 'd' };

/**
 * The contract check every integration suite runs (support/contract.ts) catches what it must: a
 * status the operation does not declare, a content type it does not declare, a body its schema
 * refuses; and openapi.yaml types every answer of every operation.
 */
describe('the contract check', () => {
  it('passes an answer that matches its operation, status and schema', () => {
    const verdict = { index: 0, event_id: '123e4567-e89b-12d3-a456-426614174000', status: 'accepted' };
    expect(checkAnswer('POST', '/api/v1/analytics/events', 202, 'application/json', json(verdict))).toEqual([]);
    expect(
      checkAnswer('POST', '/api/v1/analytics/events/', 202, 'application/json; charset=utf-8', json(verdict)),
    ).toEqual([]);
    expect(
      checkAnswer('GET', '/api/v1/analytics/nothing-here', 404, 'application/problem+json', json(PROBLEM)),
    ).toEqual([]);
  });

  it('reports a status, a content type or a body the contract does not declare', () => {
    const one = (status: number, ct: string, body: unknown) =>
      checkAnswer('POST', '/api/v1/analytics/events', status, ct, json(body)).map((v) => v.problem);
    expect(one(418, 'application/problem+json', PROBLEM)).toEqual([
      expect.stringMatching(/^status 418 is not declared \(declared: 202, 400, 401, 403, 413, 415, 429, 503\)$/),
    ]);
    expect(one(202, 'text/plain', 'ok')).toEqual([
      'content type text/plain is not declared for 202 (declared: application/json)',
    ]);
    expect(one(202, 'application/json', { index: 0, event_id: null, status: 'stored' })).toEqual([
      expect.stringMatching(
        /^the body does not match the declared schema: \/status must be equal to one of the allowed values/,
      ),
    ]);
    expect(one(400, 'application/problem+json', { title: 'X', status: 400 })).toEqual([
      expect.stringMatching(/must have required property 'type'/),
    ]);
    expect(
      checkAnswer('GET', '/api/v1/analytics/undocumented', 200, 'application/json', json({})).map((v) => v.problem),
    ).toEqual(['an answer for a route openapi.yaml does not describe']);
  });

  it('declares a schema for every answer with a body, and problem+json for every error', () => {
    const doc = load(readFileSync(join(__dirname, '..', 'openapi.yaml'), 'utf8')) as any;
    let operations = 0;
    let statuses = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        operations++;
        expect(op.operationId).toMatch(/^[a-z]+[A-Za-z]*$/);
        for (const [status, r] of Object.entries<any>(op.responses)) {
          statuses++;
          const where = `${method.toUpperCase()} ${path} ${status}`;
          expect({ where, content: Object.keys(r.content ?? {}).length > 0 }).toEqual({ where, content: true });
          for (const [media, c] of Object.entries<any>(r.content)) {
            expect({ where, media, schema: c.schema !== undefined }).toEqual({ where, media, schema: true });
            if (Number(status) >= 400) expect({ where, media }).toEqual({ where, media: 'application/problem+json' });
          }
        }
      }
    }
    expect(operations).toBe(36);
    expect(statuses).toBeGreaterThan(100);
  });

  describe('on a running api', () => {
    let t: TestEnv;
    beforeAll(async () => {
      t = await createTestEnv({}, { worker: false });
    });
    afterAll(async () => {
      await t.close();
    });

    it('sees the answers a test gets, from both HTTP lanes', async () => {
      expect(checkedAnswers().has('ingestEvent 202')).toBe(false);
      expect((await t.post(EVENTS, makeEvent())).status).toBe(202); // the ingest route, in front of Express
      expect((await t.get('/api/v1/analytics/schemas', t.tenant.report)).status).toBe(200); // Express
      expect((await t.get('/api/v1/analytics/schemas/version?name=a&name=b', t.tenant.report)).status).toBe(400);
      expect([...checkedAnswers()].sort()).toEqual(['getSchemaVersion 400', 'ingestEvent 202', 'listSchemas 200']);
      expect(takeContractViolations()).toEqual([]);
    });
  });
});
