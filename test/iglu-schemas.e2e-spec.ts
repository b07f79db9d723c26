import { join } from 'node:path';
import { readIgluRepository } from '../src/modules/schema-registry/iglu-repository';
import { IGLU_META_SCHEMA } from '../src/modules/schema-registry/self-describing';
import { TestEnv, createTestEnv } from './support/test-env';

const SCHEMAS = '/api/v1/analytics/schemas';
/** Self-describing schemas written for these tests: every construct real Iglu registries hold. */
export const IGLU_CORPUS = join(__dirname, 'fixtures', 'iglu');

describe('self-describing Iglu schemas publish as they are', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('publishes the corpus in version order: the valid versions accepted, each refusal with every reason', async () => {
    const { files, skipped } = readIgluRepository(IGLU_CORPUS);
    expect(skipped).toEqual([]);
    const answers: Record<string, { status: number; json: any }> = {};
    for (const f of files) answers[f.uri] = await t.post(SCHEMAS, { uri: f.uri, schema: f.schema }, t.tenant.admin);
    const statuses = Object.fromEntries(Object.entries(answers).map(([uri, a]) => [uri, a.status]));
    expect(statuses).toEqual({
      'iglu:com.acme.legacy/ping/jsonschema/1-0-0': 201,
      'iglu:com.acme.unsafe/anonymous/jsonschema/1-0-0': 400,
      'iglu:com.acme.unsafe/drift/jsonschema/1-0-0': 422,
      'iglu:com.acme.unsafe/scan/jsonschema/1-0-0': 400,
      'iglu:com.acme/checkout/jsonschema/1-0-0': 201,
      'iglu:com.acme/checkout/jsonschema/1-0-1': 201,
      'iglu:com.acme/checkout/jsonschema/1-0-2': 201,
      'iglu:com.acme/checkout/jsonschema/1-0-3': 422,
      'iglu:com.acme/checkout/jsonschema/1-1-0': 201,
      'iglu:com.acme/device/jsonschema/1-0-0': 201,
    });

    // Stored exactly as published: the meta-schema $schema and the self block included.
    const first = answers['iglu:com.acme/checkout/jsonschema/1-0-0'].json;
    expect(first.schema).toEqual(files.find((f) => f.uri === 'iglu:com.acme/checkout/jsonschema/1-0-0')!.schema);
    expect(first.schema.$schema).toBe(IGLU_META_SCHEMA);
    // The style-only strict-mode rules are warnings in the answer, not refusals.
    expect(first.warnings).toEqual([
      expect.stringContaining('"items" is 1-tuple, but minItems or maxItems/additionalItems are not specified'),
      expect.stringContaining('missing type "object" for keyword "required"'),
      expect.stringContaining('missing type "object" for keyword "properties"'),
    ]);
    expect(answers['iglu:com.acme/device/jsonschema/1-0-0'].json.warnings).toBeUndefined();

    const scan = answers['iglu:com.acme.unsafe/scan/jsonschema/1-0-0'].json;
    expect(scan).toMatchObject({ title: 'Schema refused', status: 400 });
    expect(scan.reasons).toEqual([
      '/properties/remote/$ref: only references inside the schema (#/…) are allowed, not http://169.254.169.254/latest/meta-data',
      expect.stringMatching(/^\/properties\/size\/format: unknown format "shoe-size", which validation would ignore/),
      '/properties/flag/requird: unknown keyword "requird", which validation would ignore',
      expect.stringMatching(/^\/properties\/token\/pattern: the pattern "\^\(a\+\)\+\$" can take exponential time/),
      expect.stringMatching(/^\/properties\/word\/pattern: the pattern .* can take exponential time/),
    ]);
    expect(scan.detail).toMatch(/^The schema cannot be published \(5 reasons\): /);

    expect(answers['iglu:com.acme.unsafe/anonymous/jsonschema/1-0-0'].json.reasons).toEqual([
      '/self: required by the self-describing meta-schema (vendor, name, format, version)',
    ]);
    expect(answers['iglu:com.acme.unsafe/drift/jsonschema/1-0-0'].json).toMatchObject({
      title: 'Self-describing block does not match',
      reasons: [
        '/self/version: is "1-0-1" but the schema is published as iglu:com.acme.unsafe/drift/jsonschema/1-0-0 (version "1-0-0")',
      ],
    });

    // An ADDITION the check cannot decide says so, with its pointer; the same change goes in as a REVISION.
    const undecided = answers['iglu:com.acme/checkout/jsonschema/1-0-3'].json;
    expect(undecided.title).toBe('Incompatible ADDITION');
    expect(undecided.changes).toEqual([
      {
        pointer: '/properties/coupon',
        verdict: 'undecided',
        message:
          '/properties/coupon: pattern added ("^[A-Z0-9]+$"); whether the new version still accepts everything the previous one did cannot be decided',
      },
    ]);
    expect(undecided.detail).toContain('Publish it as the REVISION 1-1-0');

    const list = await t.get(SCHEMAS, t.tenant.report);
    expect(list.json.filter((s: any) => s.kind === 'iglu')).toEqual([
      { name: 'com.acme.legacy/ping/jsonschema', kind: 'iglu', versions: ['1-0-0'], latest: '1-0-0' },
      {
        name: 'com.acme/checkout/jsonschema',
        kind: 'iglu',
        versions: ['1-0-0', '1-0-1', '1-0-2', '1-1-0'],
        latest: '1-1-0',
      },
      { name: 'com.acme/device/jsonschema', kind: 'iglu', versions: ['1-0-0'], latest: '1-0-0' },
    ]);
    const { rows } = await t.db.query(`SELECT count(*)::int AS n FROM analytics_schemas WHERE tenant_id = $1`, [
      t.tenant.id,
    ]);
    expect(rows[0].n).toBe(6);
  });
});
