import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createApiApp } from './app/bootstrap';
import { HttpDrain } from './app/http-drain';
import { startRole } from './app/start-role';
import { DEMO_SEED_LOCK, underAdvisoryLock } from './database/database-preparation';
import { TenantsRepository } from './modules/auth/tenants.repository';
import { TenantAdmin } from './modules/auth/tenant-admin';
import { reportReady } from './launcher';
import { flushRoleLogs } from './app/telemetry';

void startRole(
  'api',
  async (config) => {
    const app = await createApiApp(config);
    const logger = new Logger('Api');
    let demoBlock = '';
    if (config.env === 'development') {
      // Apis starting together on a fresh database: one seeds the demo tenant, the others find it.
      const demo = await underAdvisoryLock(app.get(DataSource), DEMO_SEED_LOCK, () =>
        new TenantAdmin(app.get(TenantsRepository)).seedDemo(),
      );
      if (demo) {
        // Printed once, on the first start: only hashes are stored, so these cannot be shown again.
        demoBlock =
          `\nCreated demo tenant ${demo.tenant.id} (operator) with these API keys, shown only now:\n` +
          demo.keys.map((k) => `  ${k.scopes[0].padEnd(6)} ${k.key}`).join('\n') +
          '\n\n';
      }
    }
    await app.listen(config.http.port, config.http.host);
    const url = `http://${config.http.host}:${config.http.port}`;
    // The address as a field of its own: the sanitizer every message passes would redact the IP in it.
    logger.log(
      { address: url },
      `Listening on port ${config.http.port} (Swagger UI ${config.http.swaggerEnabled ? 'at /api/docs' : 'off'}, Bull Board at /admin/queues)`,
    );
    // Started by the launcher, the keys come after both roles are ready; alone, right after listening.
    await flushRoleLogs('api');
    if (!reportReady({ role: 'api', url, demo: demoBlock || undefined }) && demoBlock) process.stdout.write(demoBlock);
    return app;
  },
  async (app) => {
    await app.get(HttpDrain).drain();
  },
);
