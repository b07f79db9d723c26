import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { Telemetry } from './telemetry.service';

/** A probe: resolves the checks' details when healthy, rejects with the failing one's reason. */
export type Probe = () => Promise<Record<string, unknown>>;

/**
 * The small HTTP port of a role, on node:http (the worker loads no Express): GET /metrics, and
 * for the worker its probes at the api's paths (/api/v1/analytics/health/live, /ready, /startup).
 */
export class MetricsServer {
  private readonly logger = new Logger('Metrics');
  private server: Server | null = null;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly probes: Record<string, Probe> = {},
    private readonly withMetrics = true,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => void this.answer(req, res));
    server.keepAliveTimeout = 65_000; // longer than Prometheus's scrape interval: one connection per target
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    this.logger.log(
      { address: `${host}:${bound}` },
      `Serving ${[...(this.withMetrics ? ['/metrics'] : []), ...Object.keys(this.probes)].join(', ')} on port ${bound}`,
    );
    return bound;
  }

  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'Method not allowed\n');
    try {
      if (path === '/metrics' && this.withMetrics) {
        const { contentType, body } = await this.telemetry.scrape();
        return send(res, 200, contentType, body);
      }
      const probe = this.probes[path];
      if (!probe) return send(res, 404, 'text/plain', 'Not found\n');
      try {
        const details = await probe();
        return send(res, 200, 'application/json', JSON.stringify({ status: 'ok', ...details }));
      } catch (err) {
        return send(res, 503, 'application/json', JSON.stringify({ status: 'error', message: (err as Error).message }));
      }
    } catch (err) {
      this.logger.warn(`Could not answer ${path}: ${(err as Error).message}`);
      return send(res, 500, 'text/plain', 'Internal error\n');
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}
