import { WebSocket } from 'ws';
import { waitFor } from './events';

export const WS_PATH = '/api/v1/analytics/events/ws';

/** A real WebSocket client of the ingestion endpoint: answers kept by seq, the close code and reason. */
export class IngestSocket {
  readonly answers = new Map<string, any>();
  /** Answers without a seq (a message whose seq could not be read), in arrival order. */
  readonly unseq: any[] = [];
  pings = 0;
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const a = JSON.parse((data as Buffer).toString('utf8'));
      if (a.seq === null || a.seq === undefined) this.unseq.push(a);
      else this.answers.set(String(a.seq), a);
    });
    ws.on('ping', () => this.pings++);
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  /** Opens a connection; `key` goes in Authorization unless `protocols` carries it. */
  static open(
    baseUrl: string,
    opts: { key?: string | null; protocols?: string[]; headers?: Record<string, string>; path?: string } = {},
  ): Promise<IngestSocket> {
    const url = baseUrl.replace(/^http/, 'ws') + (opts.path ?? WS_PATH);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const ws = new WebSocket(url, opts.protocols ?? ['analytics.v1'], { headers });
    const client = new IngestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () => reject(new HandshakeRefused(res.statusCode ?? 0, body ? JSON.parse(body) : null)));
      });
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Waits for the answer to this seq. */
  async answer(seq: number | string, timeoutMs = 15000): Promise<any> {
    await waitFor(
      `the answer to seq ${seq}`,
      () => this.answers.has(String(seq)) || this.closed !== null,
      timeoutMs,
      5,
    );
    const a = this.answers.get(String(seq));
    if (!a) throw new Error(`closed (${JSON.stringify(this.closed)}) before answering seq ${seq}`);
    return a;
  }

  async waitClosed(timeoutMs = 15000): Promise<{ code: number; reason: string }> {
    await waitFor('the connection to close', () => this.closed !== null, timeoutMs, 5);
    return this.closed!;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ws.close(1000);
    return this.waitClosed().then(() => undefined);
  }
}

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: any,
  ) {
    super(`handshake refused with ${status}: ${JSON.stringify(body)}`);
  }
}

export async function refusal(p: Promise<unknown>): Promise<HandshakeRefused> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HandshakeRefused) return err;
    throw err;
  }
  throw new Error('the handshake was accepted');
}
