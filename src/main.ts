import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApiApp, startRole } from './app/bootstrap';

void startRole('api', async (config) => {
  const app = await createApiApp(config);
  await app.listen(config.http.port, config.http.host);
  new Logger('Api').log(`Listening on http://${config.http.host}:${config.http.port} (Swagger UI ${config.http.swaggerEnabled ? 'at /api/docs' : 'off'}, Bull Board at /admin/queues)`);
  return app;
});
