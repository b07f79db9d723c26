import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { EVENTS, makeEvent, waitFor } from './support/events';
import { TestEnv, createTestEnv, request } from './support/test-env';
import { DIST, requireBuild, startApiProcess } from './support/worker-process';

const run = promisify(execFile);

describe('npm run cli: tenants and keys', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { worker: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const cli = async (...args: string[]) => {
    requireBuild();
    return run(process.execPath, [join(DIST, 'cli', 'cli.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', ...t.env },
    });
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
});

describe('no key, token or event payload in any log line', () => {
  it("keeps credentials and payloads out of the api's debug output", async () => {
    const t = await createTestEnv({}, { api: false, worker: false });
    const secret = 'a-dashboard-sso-secret-of-at-least-32-chars';
    const api = await startApiProcess({ ...t.env, ANALYTICS_DEBUG_MODE: 'true', ANALYTICS_JWT_SECRET: secret });
    try {
      const { base } = api;
      const jwt = await new SignJWT({ tenant_id: t.tenant.id, scope: 'ingest' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
      const planted = 'planted-payload-7f3a9c';
      const send = (auth: string, body: unknown) =>
        request(`${base}${EVENTS}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify(body),
        });
      const withPlanted = () =>
        makeEvent({ attributes: { 'voice.turn_id': 't-1', 'voice.first_response_ms': 300, 'acme.note': planted } });
      expect((await send(`Bearer ${t.tenant.ingest}`, withPlanted())).status).toBe(202);
      expect((await send(`Bearer ${jwt}`, withPlanted())).status).toBe(202);
      expect((await send(`Bearer ${t.tenant.ingest}`, makeEvent({ source: planted }))).status).toBe(400);
      expect((await send(`Bearer ${t.tenant.ingest}x`, makeEvent())).status).toBe(401);
      expect((await send(`Bearer ${t.tenant.report}`, makeEvent())).status).toBe(403);
      await new Promise((r) => setTimeout(r, 300));
      const output = api.stdout + api.stderr;
      expect(output).toMatch(/ingest: 1 received, 1 accepted/); // debug lines were written...
      for (const secretThing of [
        t.tenant.ingest.slice(16),
        t.tenant.report.slice(16),
        jwt.split('.')[2],
        secret,
        planted,
      ]) {
        expect(output).not.toContain(secretThing); // ...and none holds a credential or a payload
      }
    } finally {
      api.child.kill('SIGTERM');
      await api.exited;
      await t.close();
    }
  });
});
