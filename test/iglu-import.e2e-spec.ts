import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IGLU_META_SCHEMA } from '../src/modules/schema-registry/self-describing';
import { DIST, requireBuild } from './support/worker-process';
import { TestEnv, createTestEnv, request } from './support/test-env';

const run = promisify(execFile);
const CORPUS = join(__dirname, 'fixtures', 'iglu');

/** `npm run cli -- schemas:import DIR`, then the schemas read back as an Iglu resolver reads them. */
describe('Iglu registry: import a static repository, serve the Iglu server layout', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv();
  });
  afterAll(async () => {
    await t.close();
  });

  const importCorpus = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    requireBuild();
    try {
      const r = await run(
        process.execPath,
        [join(DIST, 'cli', 'cli.js'), 'schemas:import', CORPUS, '--tenant', t.tenant.id],
        { env: { PATH: process.env.PATH ?? '', ...t.env } },
      );
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('imports the tree in version order with a progress line each and a summary, and again as already there', async () => {
    const first = await importCorpus();
    expect(first.code).toBe(1); // some schemas were refused
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Importing ${CORPUS} for tenant ${t.tenant.id}`);
    expect(lines.slice(1, 11)).toEqual([
      '[1/10] iglu:com.acme/checkout/jsonschema/1-0-0: published with 3 warning(s)',
      '[2/10] iglu:com.acme/checkout/jsonschema/1-0-1: published with 3 warning(s)',
      '[3/10] iglu:com.acme/checkout/jsonschema/1-0-2: published with 3 warning(s)',
      expect.stringMatching(
        /^\[4\/10\] iglu:com.acme\/checkout\/jsonschema\/1-0-3: refused \(422\): \/properties\/coupon: pattern added/,
      ),
      '[5/10] iglu:com.acme/checkout/jsonschema/1-1-0: published with 3 warning(s)',
      '[6/10] iglu:com.acme/device/jsonschema/1-0-0: published',
      '[7/10] iglu:com.acme.legacy/ping/jsonschema/1-0-0: published',
      expect.stringMatching(
        /^\[8\/10\] iglu:com.acme.unsafe\/anonymous\/jsonschema\/1-0-0: refused \(400\): \/self: required/,
      ),
      expect.stringMatching(
        /^\[9\/10\] iglu:com.acme.unsafe\/drift\/jsonschema\/1-0-0: refused \(422\): \/self\/version/,
      ),
      expect.stringMatching(/^\[10\/10\] iglu:com.acme.unsafe\/scan\/jsonschema\/1-0-0: refused \(400\): /),
    ]);
    expect(lines[11]).toBe('Imported: 6 published, 0 already there, 4 refused.');
    const scan = lines.indexOf('refused iglu:com.acme.unsafe/scan/jsonschema/1-0-0 (400):');
    expect(scan).toBeGreaterThan(11);
    expect(lines.slice(scan + 1, scan + 6).every((l) => l.startsWith('  - '))).toBe(true);

    const again = await importCorpus();
    expect(again.stdout).toContain('Imported: 0 published, 6 already there, 4 refused.');
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM analytics_schemas WHERE tenant_id = $1`, [
      t.tenant.id,
    ]);
    expect(rows[0].n).toBe(6);
  });

  it('serves each version in the Iglu server layout, self-describing, to the report key and to an apikey header', async () => {
    const path = '/api/schemas/com.acme/checkout/jsonschema/1-0-1';
    const file = JSON.parse(readFileSync(join(CORPUS, 'schemas/com.acme/checkout/jsonschema/1-0-1'), 'utf8'));
    const byHeader = await t.get(path, t.tenant.report);
    expect(byHeader.status).toBe(200);
    expect(byHeader.json).toEqual(file);
    const byApikey = await request(`${t.url}${path}`, { headers: { apikey: t.tenant.report } });
    expect([byApikey.status, byApikey.json]).toEqual([200, file]);

    // Published without a self block (draft-04 style): served with the meta-schema and its self block.
    const legacy = await t.get('/api/schemas/com.acme.legacy/ping/jsonschema/1-0-0', t.tenant.report);
    expect(legacy.json).toMatchObject({
      $schema: IGLU_META_SCHEMA,
      self: { vendor: 'com.acme.legacy', name: 'ping', format: 'jsonschema', version: '1-0-0' },
      properties: { latency: { type: 'number', minimum: 0, exclusiveMinimum: true } },
    });

    const list = await t.get('/api/schemas', t.tenant.report);
    expect(list.json).toEqual([
      'iglu:com.acme.legacy/ping/jsonschema/1-0-0',
      'iglu:com.acme/checkout/jsonschema/1-0-0',
      'iglu:com.acme/checkout/jsonschema/1-0-1',
      'iglu:com.acme/checkout/jsonschema/1-0-2',
      'iglu:com.acme/checkout/jsonschema/1-1-0',
      'iglu:com.acme/device/jsonschema/1-0-0',
    ]);

    expect((await t.get('/api/schemas/com.acme/checkout/jsonschema/1-0-3', t.tenant.report)).status).toBe(404);
    expect((await t.get(path, t.other.report)).status).toBe(404); // another tenant's registry
    expect((await t.get(path, t.tenant.ingest)).status).toBe(403);
    expect((await request(`${t.url}${path}`)).status).toBe(401);
  });
});
