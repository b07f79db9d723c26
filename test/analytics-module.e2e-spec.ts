import { Controller, Get, INestApplication, INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AnalyticsModule, initializeAnalytics } from '../src';
import { BATCH, makeEvent, waitFor } from './support/events';
import { createTestEnv, request, TestEnv } from './support/test-env';
import { watchContract } from './support/contract';

@Controller('hello')
class HostController {
  @Get()
  hello() {
    return { hello: 'world' };
  }
}

/**
 * The service as a library: AnalyticsModule.forRoot(options) mounted in a host NestJS application
 * (its body parser on, as Nest's default), forWorker storing what it accepts, and
 * initializeAnalytics(options) starting both roles in one process; options over the environment.
 */
describe('AnalyticsModule and initializeAnalytics', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await createTestEnv({}, { api: false, worker: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a host application mounts the api with the options, keeps its own routes open, and forWorker stores the events', async () => {
    @Module({
      imports: [AnalyticsModule.forRoot({ ingestion: { maxBatchSize: 2 } }, t.env)],
      controllers: [HostController],
    })
    class HostModule {}
    @Module({ imports: [AnalyticsModule.forWorker({ ingestion: { maxBatchSize: 2 } }, t.env)] })
    class HostWorkerModule {}
    let host: INestApplication | undefined;
    let worker: INestApplicationContext | undefined;
    try {
      host = await NestFactory.create(HostModule, { logger: false });
      watchContract(host.getHttpServer());
      await host.listen(0, '127.0.0.1');
      worker = await NestFactory.createApplicationContext(HostWorkerModule, { logger: false });
      const url = `http://127.0.0.1:${(host.getHttpServer().address() as { port: number }).port}`;
      const post = (body: unknown) =>
        request(`${url}${BATCH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.ingest}` },
          body: JSON.stringify(body),
        });

      expect((await request(`${url}/hello`)).json).toEqual({ hello: 'world' });
      expect((await request(`${url}/api/v1/analytics/stats`)).status).toBe(401);
      const tooMany = await post({ events: [makeEvent(), makeEvent(), makeEvent()] });
      expect(tooMany.status).toBe(413);
      expect(tooMany.json.detail).toBe(
        '/events holds 3 events; the limit is 2 (ANALYTICS_MAX_BATCH_SIZE). Split the batch.',
      );
      const ok = await post({ events: [makeEvent(), makeEvent()] });
      expect({ status: ok.status, accepted: ok.json.accepted }).toEqual({ status: 202, accepted: 2 });
      await waitFor(
        '2 stored events',
        async () => (await t.db.query('SELECT count(*)::int AS n FROM analytics_events_raw')).rows[0].n === 2,
      );
    } finally {
      await host?.close();
      await worker?.close();
    }
  });

  it('initializeAnalytics starts both roles with the options and closes them', async () => {
    const service = await initializeAnalytics({ reporting: { maxTimeseriesPoints: 24 } }, { ...t.env, PORT: '0' });
    try {
      expect((await request(`${service.url}/api/v1/analytics/health/ready`)).status).toBe(200);
      expect(service.config.reporting.maxTimeseriesPoints).toBe(24);
      const tooLong = await request(`${service.url}/api/v1/analytics/reports/timeseries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.tenant.report}` },
        body: JSON.stringify({
          tenantId: t.tenant.id,
          metric: 'ai.tool_calls.count',
          grain: '1h',
          from: '2026-01-01T00:00:00Z',
          to: '2026-01-03T00:00:00Z',
        }),
      });
      expect(tooLong.status).toBe(400);
      expect(tooLong.json.detail).toMatch(/the limit is 24 \(ANALYTICS_MAX_TIMESERIES_POINTS\)/);
    } finally {
      await service.close();
    }
  });

  it('refuses options that make no sense before anything starts', async () => {
    await expect(initializeAnalytics({ privacy: { sanitizeEventData: false } }, t.env)).rejects.toThrow(
      /privacy\.sanitizeEventData cannot be turned off/,
    );
  });
});
