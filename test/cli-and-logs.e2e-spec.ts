import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { EVENTS, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';
import { DIST, requireBuild, runRole, startApiProcess } from './support/worker-process';

const run = promisify(execFile);

describe('npm run cli: tenants and keys', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const cliWith = async (env: Record<string, string>, ...args: string[]) => {
    requireBuild();
    return run(process.execPath, [join(DIST, 'cli', 'cli.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...t.env, ...env },
    });
  };
  const cli = (...args: string[]) => cliWith({}, ...args);

  /** Every tenant and key as stored, to show that a refused command changed nothing. */
  const stored = async () =>
    (
      await t.db.query(
        `SELECT (SELECT json_agg(x ORDER BY x.id) FROM (SELECT id, name, is_operator, rate_limit_rps, rate_limit_eps,
                  cors_origins, validation_mode, retention_days, pseudonymize_user_id, redact_keys
                  FROM analytics_tenants) x) AS tenants,
                (SELECT json_agg(k ORDER BY k.id) FROM (SELECT id, tenant_id, name, scopes, revoked_at
                  FROM analytics_api_keys) k) AS keys`,
      )
    ).rows[0];

  /** Runs a command that must fail; resolves its exit code and stderr. */
  const refused = async (args: string[], env: Record<string, string> = {}) => {
    try {
      await cliWith(env, ...args);
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      expect(e.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(e.stderr).not.toMatch(/invalid input syntax|QueryFailedError/);
      return { code: e.code, stderr: e.stderr, stdout: e.stdout };
    }
    throw new Error(`npm run cli -- ${args.join(' ')} succeeded`);
  };

  it('creates a tenant and a key that works at once, lists it without its secret, and revokes it', async () => {
    const created = JSON.parse(
      (await cli('tenant:create', '--name', 'initech', '--rps', '50', '--cors', 'https://app.initech.example')).stdout,
    );
    expect(created).toMatchObject({
      name: 'initech',
      isOperator: false,
      rateLimitRps: 50,
      rateLimitEps: null,
      corsOrigins: ['https://app.initech.example'],
      validationMode: 'reject',
    });
    const updated = JSON.parse(
      (
        await cli(
          'tenant:update',
          '--tenant',
          created.id,
          '--validation-mode',
          'quarantine',
          '--rps',
          'default',
          '--retention-days',
          '30',
          '--pseudonymize',
          'on',
          '--redact-keys',
          'Loyalty-No,member',
        )
      ).stdout,
    );
    expect(updated).toMatchObject({
      validationMode: 'quarantine',
      rateLimitRps: null,
      retentionDays: 30,
      pseudonymizeUserId: true,
      redactKeys: ['loyalty_no', 'member'],
    });
    expect(updated).not.toHaveProperty('pseudonymSecret');

    const issued = (await cli('key:create', '--tenant', created.id, '--scopes', 'ingest', '--name', 'backend')).stdout;
    const key = /API key: (ak_\S+)/.exec(issued)![1];
    expect(issued).toMatch(/shown only now/);
    const stored = await t.db.query('SELECT secret_hash FROM analytics_api_keys WHERE tenant_id = $1', [created.id]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].secret_hash.toString('hex')).not.toContain(key.slice(-43));

    expect((await t.post(EVENTS, makeEvent({ tenant_id: created.id }), key)).status).toBe(202);

    const listing = (await cli('key:list', '--tenant', created.id)).stdout;
    expect(listing).toContain('backend');
    expect(listing).not.toContain(key.slice(-43));

    const revoked = (await cli('key:revoke', '--key', key)).stdout;
    expect(revoked).toMatch(/^Revoked [0-9a-f]{12}; every instance refuses it within a second\./);
    await waitFor(
      'the revocation',
      async () => (await t.post(EVENTS, makeEvent({ tenant_id: created.id }), key)).status === 401,
      3000,
    );
    await expect(cli('key:revoke', '--key', key)).rejects.toMatchObject({
      stderr: expect.stringMatching(/cli: no active key [0-9a-f]{12}/),
    });
  });

  it('names what is wrong with a command', async () => {
    await expect(
      cli('key:create', '--tenant', '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10', '--scopes', 'ingest,write'),
    ).rejects.toMatchObject({
      stderr: expect.stringContaining(
        'cli: scopes must be a comma-separated list of ingest, report, admin (got "ingest,write")',
      ),
    });
    await expect(cli('tenant:create')).rejects.toMatchObject({
      stderr: expect.stringContaining('cli: --name is required'),
    });
    await expect(cli('tenant:update', '--tenant', t.tenant.id, '--validation-mode', 'lenient')).rejects.toMatchObject({
      stderr: expect.stringContaining('--validation-mode must be reject or quarantine (got "lenient")'),
    });
    await expect(cli('tenant:update', '--tenant', t.tenant.id, '--cors', 'https://x/path')).rejects.toMatchObject({
      stderr: expect.stringContaining('--cors takes origins like https://shop.example.com (no path)'),
    });
  });

  it('answers a mistake in the command line with exit code 2, the command usage, and no change to the database', async () => {
    const before = await stored();
    const noSuchTenant = randomUUID();
    const usage = (command: string) => `Usage: npm run cli -- ${command} `;
    const cases: [string[], string, string][] = [
      [
        ['key:create', '--tenant', 'acme', '--scopes', 'ingest'],
        'cli: --tenant must be a tenant id (a UUID); see npm run cli -- tenant:list',
        usage('key:create'),
      ],
      [
        ['tenant:update', '--tenant', 'acme', '--rps', '5'],
        'cli: --tenant must be a tenant id (a UUID); see npm run cli -- tenant:list',
        usage('tenant:update'),
      ],
      [
        ['key:list', '--tenant', 'acme'],
        'cli: --tenant must be a tenant id (a UUID); see npm run cli -- tenant:list',
        usage('key:list'),
      ],
      [['key:create', '--scopes', 'ingest'], 'cli: --tenant is required', usage('key:create')],
      [['key:create', '--tenant', t.tenant.id], 'cli: --scopes is required', usage('key:create')],
      [['key:create', '--tenant', '--scopes', 'ingest'], 'cli: --tenant needs a value', usage('key:create')],
      [
        ['key:create', '--tenant', t.tenant.id, '--scopes', 'ingest', '--label', 'x'],
        'cli: key:create has no option --label; its options are --tenant, --scopes, --name',
        usage('key:create'),
      ],
      [
        ['key:create', '--tenant', t.tenant.id, '--scopes', 'ingest,write'],
        'cli: scopes must be a comma-separated list of ingest, report, admin (got "ingest,write")',
        usage('key:create'),
      ],
      [
        ['tenant:create', '--name', 'numbers', '--rps', 'fast'],
        'cli: --rps must be a number, a positive integer or "default" (got "fast")',
        usage('tenant:create'),
      ],
      [
        ['tenant:create', '--name', 'numbers', '--eps', '2.5'],
        'cli: --eps must be a positive integer or "default" (got "2.5")',
        usage('tenant:create'),
      ],
      [
        ['tenant:create', '--name', 'numbers', '--rps', '99999999999'],
        'cli: --rps must be at most 2147483647 (got "99999999999")',
        usage('tenant:create'),
      ],
      [
        ['tenant:update', '--tenant', t.tenant.id, '--retention-days', 'a month'],
        'cli: --retention-days must be a number, a positive integer or "default" (got "a month")',
        usage('tenant:update'),
      ],
      [
        ['tenant:create', '--name', 'x', '--id', 'acme'],
        'cli: --id must be a UUID (got "acme")',
        usage('tenant:create'),
      ],
      [
        ['tenant:create', '--name', 'x', '--operator=yes'],
        'cli: --operator takes no value (got "yes")',
        usage('tenant:create'),
      ],
      [['tenant:create', 'acme'], 'cli: unexpected argument "acme"', usage('tenant:create')],
      [
        ['key:revoke', '--key', 'not-a-key'],
        'cli: --key must be a key id (12 hex digits, as key:list shows) or a whole key (ak_…)',
        usage('key:revoke'),
      ],
      [['tenant:list', '--tenant', noSuchTenant], 'cli: tenant:list has no option --tenant', usage('tenant:list')],
    ];
    for (const [args, message, shown] of cases) {
      const r = await refused(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(shown);
      expect(r.stdout).toBe('');
    }

    // An unknown command, or none: the list of commands.
    for (const args of [['frobnicate'], []]) {
      const r = await refused(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(args.length ? 'cli: unknown command "frobnicate"' : 'cli: no command given');
      for (const command of ['tenant:list', 'tenant:create', 'tenant:update', 'key:create', 'key:list', 'key:revoke'])
        expect(r.stderr).toContain(`  ${command} `);
    }

    // The flags are checked before the database is reached: the same answer with no database at all.
    const nowhere = { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/analytics' };
    const offline = await refused(['key:create', '--tenant', 'acme', '--scopes', 'ingest'], nowhere);
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain('cli: --tenant must be a tenant id (a UUID); see npm run cli -- tenant:list');
    const unreachable = await refused(['tenant:list'], nowhere);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^cli: cannot reach PostgreSQL at 127\.0\.0\.1:1\/analytics \(DATABASE_URL\): /);

    // Well-formed, but naming what does not exist: exit code 1 and the missing thing.
    for (const args of [
      ['key:create', '--tenant', noSuchTenant, '--scopes', 'ingest'],
      ['tenant:update', '--tenant', noSuchTenant, '--rps', '5'],
      ['key:list', '--tenant', noSuchTenant],
    ]) {
      const r = await refused(args);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toContain(`cli: no tenant ${noSuchTenant}; see npm run cli -- tenant:list`);
      expect(r.stderr).not.toContain('Usage:');
    }
    const revoke = await refused(['key:revoke', '--key', '0123456789ab']);
    expect(revoke).toMatchObject({ code: 1, stderr: expect.stringContaining('cli: no active key 0123456789ab') });
    const taken = await refused(['tenant:create', '--name', 'twin', '--id', t.tenant.id]);
    expect(taken).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`cli: a tenant ${t.tenant.id} already exists`),
    });

    expect(await stored()).toEqual(before);

    // Help is not a mistake.
    const help = await cli('key:create', '--help');
    expect(help.stdout).toContain('Usage: npm run cli -- key:create --tenant UUID --scopes ingest,report,admin');
  });

  it('lists tenants with their number of active keys, as a table or as JSON, and no key material', async () => {
    const created = JSON.parse((await cli('tenant:create', '--name', 'listed-operator-co', '--operator')).stdout);
    const keys: string[] = [];
    for (const scopes of ['ingest', 'report', 'admin'])
      keys.push(
        /API key: (ak_\S+)/.exec((await cli('key:create', '--tenant', created.id, '--scopes', scopes)).stdout)![1],
      );
    await cli('key:revoke', '--key', keys[2]);

    const json = JSON.parse((await cli('tenant:list', '--json')).stdout);
    expect(Array.isArray(json)).toBe(true);
    expect(json).toContainEqual({ id: created.id, name: 'listed-operator-co', isOperator: true, activeKeys: 2 });
    expect(json).toContainEqual({ id: t.tenant.id, name: 'acme', isOperator: false, activeKeys: expect.any(Number) });
    for (const row of json) expect(Object.keys(row).sort()).toEqual(['activeKeys', 'id', 'isOperator', 'name']);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM analytics_tenants');
    expect(json).toHaveLength(rows[0].n);

    const text = (await cli('tenant:list')).stdout;
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +OPERATOR +ACTIVE KEYS$/);
    expect(lines).toHaveLength(json.length + 1);
    const row = lines.find((l) => l.startsWith(created.id))!;
    expect(row).toMatch(new RegExp(`^${created.id} +listed-operator-co +yes +2$`));
    // Aligned: every column starts where its heading does.
    for (const heading of ['NAME', 'OPERATOR', 'ACTIVE KEYS']) {
      const at = lines[0].indexOf(heading);
      for (const line of lines.slice(1)) expect(line[at - 1]).toBe(' ');
      expect(row.slice(at)).toMatch(/^\S/);
    }
    for (const output of [text, JSON.stringify(json)]) {
      for (const key of keys) {
        expect(output).not.toContain(key.slice(-43));
        expect(output).not.toContain(key.slice(3, 15)); // not even a key id
      }
      expect(output).not.toMatch(/pseudonym/i);
    }
  });
});

describe('no key, token or event payload in any log line', () => {
  /** Every line a role wrote to stdout, parsed: each must be one JSON object. */
  const jsonLines = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`not a JSON log line: ${l}`);
        }
      });

  it("keeps credentials and payloads out of the api's and the worker's JSON logs, debug lines included", async () => {
    const t = await createTestEnv({}, { api: false, worker: false });
    const secret = 'a-dashboard-sso-secret-of-at-least-32-chars';
    const debugEnv = {
      ...t.env,
      LOG_LEVEL: 'log',
      ANALYTICS_DEBUG_MODE: 'true',
      ANALYTICS_JWT_SECRET: secret,
      ANALYTICS_JWT_ISSUER: 'https://sso.example.com',
      ANALYTICS_JWT_AUDIENCE: 'analytics-dashboards',
    };
    const api = await startApiProcess(debugEnv);
    const worker = runRole('worker.js', debugEnv);
    try {
      const { base } = api;
      await waitFor('the worker to consume', () => Promise.resolve(worker.stdout.includes('Consuming queues')), 20000);
      const jwt = await new SignJWT({ tenant_id: t.tenant.id, scope: 'ingest' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('https://sso.example.com')
        .setAudience('analytics-dashboards')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      const planted = 'planted-payload-7f3a9c';
      const email = 'jane.doe@example.com';
      const send = (auth: string, body: unknown, headers: Record<string, string> = {}, path = EVENTS) =>
        request(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth, ...headers },
          body: JSON.stringify(body),
        });
      const withPlanted = () =>
        makeEvent({ attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': 300, 'acme.note': planted } });
      const kept = await send(`Bearer ${t.tenant.ingest}`, withPlanted(), { 'x-request-id': 'checkout-42-a' });
      expect(kept.status).toBe(202);
      expect(kept.headers.get('x-request-id')).toBe('checkout-42-a');
      // A client id that could carry personal data is not kept: a new one is made.
      const replaced = await send(`Bearer ${t.tenant.ingest}`, withPlanted(), { 'x-request-id': `${email}` });
      expect(replaced.status).toBe(202);
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect((await send(`Bearer ${jwt}`, withPlanted())).status).toBe(202);
      expect((await send(`Bearer ${t.tenant.ingest}`, makeEvent({ source: planted }))).status).toBe(400);
      // An error message quoting personal data: the sanitizer redacts it from the debug line.
      expect((await send(`Bearer ${t.tenant.ingest}`, makeEvent({ event_id: email }))).status).toBe(400);
      expect((await send(`Bearer ${t.tenant.ingest}x`, makeEvent())).status).toBe(401);
      expect((await send(`Bearer ${t.tenant.report}`, makeEvent())).status).toBe(403);
      // Through Express (a path spelling the ingest route leaves to it): the same request line.
      expect((await send(`Bearer ${t.tenant.ingest}`, withPlanted(), {}, `${EVENTS}/`)).status).toBe(202);
      await waitFor(
        'the four accepted events stored',
        async () =>
          (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n === 4 &&
          jsonLines(worker.stdout).filter((l) => l.msg === 'job completed' && l.job === 'persist-events').length >= 1,
        20000,
      );
      // Every line each role wrote is read once it has exited and its output streams have closed.
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      await Promise.all([api.closed, worker.closed]);
      const output = api.stdout + api.stderr + worker.stdout + worker.stderr;
      expect(output).toMatch(/ingest: 1 received, 1 accepted/); // debug lines were written...
      for (const secretThing of [
        t.tenant.ingest.slice(16),
        t.tenant.report.slice(16),
        jwt.split('.')[2],
        secret,
        planted,
        email,
      ]) {
        expect(output).not.toContain(secretThing); // ...and none holds a credential, a payload or personal data
      }

      const apiLines = jsonLines(api.stdout);
      const workerLines = jsonLines(worker.stdout);
      for (const l of [...apiLines, ...workerLines]) {
        expect(typeof l.time).toBe('string');
        expect(typeof l.level).toBe('string');
        expect(typeof l.msg).toBe('string');
      }
      expect(new Set(apiLines.map((l) => l.role))).toEqual(new Set(['api']));
      expect(new Set(workerLines.map((l) => l.role))).toEqual(new Set(['worker']));

      // One line per request, both lanes, with its id, tenant, route, status and duration.
      const requests = apiLines.filter((l) => l.msg === 'request' && l.method === 'POST');
      expect(requests.map((l) => [l.lane, l.route, l.status])).toEqual([
        ['ingest-route', EVENTS, 202],
        ['ingest-route', EVENTS, 202],
        ['ingest-route', EVENTS, 202],
        ['ingest-route', EVENTS, 400],
        ['ingest-route', EVENTS, 400],
        ['ingest-route', EVENTS, 401],
        ['ingest-route', EVENTS, 403],
        ['express', EVENTS, 202],
      ]);
      expect(requests[0].request_id).toBe('checkout-42-a');
      expect(requests[1].request_id).toBe(replaced.headers.get('x-request-id'));
      expect(requests.map((l) => l.tenant_id)).toEqual([
        t.tenant.id,
        t.tenant.id,
        t.tenant.id,
        t.tenant.id,
        t.tenant.id,
        undefined, // 401: no tenant
        undefined, // 403: refused before the principal was made
        t.tenant.id,
      ]);
      for (const l of requests) expect(l.duration_ms).toEqual(expect.any(Number));
      // The debug lines: each event's validation result and dedupe decision, sanitized.
      expect(output).toMatch(/event [0-9a-f-]{36} accepted \(valid\)/);
      expect(output).toMatch(/event #0 rejected: format at \/event_id/);

      // One line per job: its id, events, duration and outcome.
      const jobs = workerLines.filter((l) => l.msg === 'job completed' && l.job === 'persist-events');
      expect(jobs.reduce((n, l) => n + (l.events as number), 0)).toBe(4);
      for (const l of jobs) {
        expect(l).toMatchObject({ queue: 'ingest', outcome: 'completed', attempt: 1 });
        expect(typeof l.job_id).toBe('string');
        expect(l.duration_ms).toEqual(expect.any(Number));
      }
    } finally {
      api.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      await Promise.all([api.exited, worker.exited]);
      await t.close();
    }
  });

  it('writes coloured lines for a terminal with LOG_FORMAT=pretty', async () => {
    const t = await createTestEnv({}, { api: false, worker: false });
    const api = await startApiProcess({ ...t.env, LOG_LEVEL: 'log', LOG_FORMAT: 'pretty' });
    try {
      const sent = await request(`${api.base}${EVENTS}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.ingest}` },
        body: JSON.stringify(makeEvent()),
      });
      expect(sent.status).toBe(202);
      api.child.kill('SIGTERM');
      await api.closed;
      expect(api.stdout).toMatch(/INFO.*Listening on port \d+/);
      expect(api.stdout).toMatch(/address.*http:\/\/127\.0\.0\.1:\d+/);
      expect(api.stdout).toMatch(/INFO.*request/);
      expect(api.stdout.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
      await t.close();
    }
  });
});
