import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';

const DIST = join(__dirname, '..', 'dist', 'index.js');
const TENANT = '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10';

/** A stand-in service that answers every batch with accepted verdicts and keeps what it got. */
function batchServer(): Promise<{ server: Server; url: string; batches: any[] }> {
  const batches: any[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      batches.push(body);
      const results = body.events.map((e: any, index: number) => ({ index, event_id: e.event_id, status: 'accepted' }));
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          received: results.length,
          accepted: results.length,
          duplicate: 0,
          dropped: 0,
          quarantined: 0,
          rejected: 0,
          results,
        }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, batches }),
    ),
  );
}

describe('flush on process exit', () => {
  it('a Node process that tracks and then has nothing left to do sends its buffer before it exits', async () => {
    expect(existsSync(DIST)).toBe(true); // built by npm test (npm run build)
    const { server, url, batches } = await batchServer();
    try {
      const script = `
        const { createAnalyticsClient } = require(${JSON.stringify(DIST)});
        const c = createAnalyticsClient({
          baseUrl: ${JSON.stringify(url)}, apiKey: 'ak_test', tenantId: ${JSON.stringify(TENANT)},
          batch: { lingerMs: 3600000 },
          onVerdict: (v) => console.log('verdict', v.status),
        });
        for (let i = 0; i < 3; i++) c.track({ event_name: 'commerce.view', attributes: { 'commerce.item_id': 'sku-' + i } });
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect({ code, out }).toEqual({ code: 0, out: 'verdict accepted\n'.repeat(3) });
      expect(batches).toHaveLength(1);
      expect(batches[0].events.map((e: any) => e.attributes['commerce.item_id'])).toEqual(['sku-0', 'sku-1', 'sku-2']);
    } finally {
      server.close();
    }
  });
});
