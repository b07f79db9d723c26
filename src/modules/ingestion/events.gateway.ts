import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { WebSocket, WebSocketServer } from 'ws';
import { PROBLEM_CONTENT_TYPE, ProblemBody, ProblemException } from '../../common/problem';
import { toProblem } from '../../common/problem.filter';
import { requestProtocol } from '../../common/raw-http';
import { Principal } from '../auth/principal';
import { RequestAuthorizer } from '../auth/request-authorizer';
import { AnalyticsConfig } from '../config/analytics-config';
import { Telemetry } from '../observability/telemetry.service';
import { summarize } from './event-verdict';
import { IngestionService } from './ingestion.service';
import {
  BadMessage,
  CloseCode,
  FLOOD_DENIALS,
  keyFromProtocols,
  parseMessage,
  WS_PROTOCOL,
  WsAnswer,
  WsMessage,
  WsSeq,
} from './ws-protocol';

export const WS_PATH = '/api/v1/analytics/events/ws';
/** Past this a frame is refused by `ws` itself (1009 without a reason); up to it, with a reason. */
const HARD_FRAME_FACTOR = 4;

/** One open ingestion connection: its tenant, the messages it has in hand, its timers. */
interface Connection {
  ws: WebSocket;
  socket: Duplex;
  principal: Principal;
  /** Messages read and not yet handled, in order. */
  waiting: { data: Buffer; isBinary: boolean; at: number }[];
  /** A message is being handled. */
  busy: boolean;
  denials: number;
  alive: boolean;
  idle: NodeJS.Timeout | null;
  closing: boolean;
}

/**
 * WebSocket ingestion (`/api/v1/analytics/events/ws`), on the api's HTTP server: one long
 * connection per voice call, many small messages. A way in only translates its wire format:
 * every message goes through the RequestAuthorizer's rate limits and IngestionService (validation,
 * sanitizer, consent, dedupe, backlog gate, queue) exactly as an HTTP request does, and is
 * answered with the same verdicts, tagged with the client's `seq`. A connection's messages are
 * handled in order, one at a time (as one HTTP connection's requests are), so a repeat in a later
 * message is always the duplicate; clients that want more in flight open more connections.
 *
 * The handshake is authorized once (credential from Authorization, X-Analytics-Key or the
 * `bearer.<key>` subprotocol; ingest scope; the tenant's CORS origins against Origin); a refused
 * one gets the HTTP problem the REST endpoints would answer, never an upgrade.
 */
@Injectable()
export class EventsGateway {
  private readonly logger = new Logger('WebSocket');
  private readonly wss: WebSocketServer;
  private readonly open = new Set<Connection>();
  private readonly limitBytes: number;
  private pinger: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private allClosed: (() => void) | null = null;

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly authorizer: RequestAuthorizer,
    private readonly ingestion: IngestionService,
    private readonly telemetry: Telemetry,
  ) {
    this.limitBytes = config.ingestion.maxPayloadSizeKb * 1024;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limitBytes * HARD_FRAME_FACTOR,
      perMessageDeflate: false,
      clientTracking: false,
      // The server speaks one subprotocol; the key a browser offers as `bearer.<key>` is never echoed.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
  }

  /** Takes the upgrades of WS_PATH on this server; other upgrade paths are answered 404. */
  install(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      const path = (req.url ?? '').split('?')[0];
      if (path !== WS_PATH) return refuseUpgrade(socket, notFound(path));
      void this.handshake(req, socket, head);
    });
    this.pinger = setInterval(() => this.ping(), this.config.ws.pingIntervalMs);
    this.pinger.unref();
  }

  get connections(): number {
    return this.open.size;
  }

  private async handshake(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const m = this.telemetry.metrics;
    try {
      if (this.draining) {
        throw new ProblemException(
          503,
          'unavailable',
          'Service unavailable',
          'The service is shutting down; connect again (to another instance).',
          {},
          { 'Retry-After': '1' },
        );
      }
      const headers = { ...req.headers };
      if (headers.authorization === undefined && headers['x-analytics-key'] === undefined) {
        const key = keyFromProtocols(req.headers['sec-websocket-protocol']);
        if (key) headers.authorization = `Bearer ${key}`;
      }
      const caller = { headers, protocol: requestProtocol(req), socket: req.socket };
      // Credential, ingest scope, CORS origin; the upgrade counts as one request against the limit.
      const principal = await this.authorizer.authorize(caller, 'ingest', 0, () => undefined);
      if (socket.destroyed) return;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        m.wsHandshakes.labels('101').inc();
        this.accept(ws, socket, principal);
      });
    } catch (err) {
      const p = toProblem(err, this.logger);
      m.wsHandshakes.labels(String(p.body.status)).inc();
      refuseUpgrade(socket, p.body, p.headers);
    }
  }

  private accept(ws: WebSocket, socket: Duplex, principal: Principal): void {
    const c: Connection = {
      ws,
      socket,
      principal,
      waiting: [],
      busy: false,
      denials: 0,
      alive: true,
      idle: null,
      closing: false,
    };
    this.open.add(c);
    this.telemetry.metrics.wsConnections.inc();
    this.touch(c);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.touch(c);
      this.enqueue(c, data, isBinary);
    });
    ws.on('error', (err) => this.logger.debug?.(`connection error: ${err.message}`));
    ws.on('close', () => {
      if (c.idle) clearTimeout(c.idle);
      this.open.delete(c);
      this.telemetry.metrics.wsConnections.dec();
      if (this.open.size === 0) this.allClosed?.();
    });
  }

  private touch(c: Connection): void {
    if (c.idle) clearTimeout(c.idle);
    const ms = this.config.ws.idleTimeoutMs;
    c.idle = setTimeout(() => this.close(c, CloseCode.Idle, `idle: no message for ${ms} ms`), ms);
  }

  private ping(): void {
    for (const c of this.open) {
      if (!c.alive) {
        this.telemetry.metrics.wsCloses.labels(String(CloseCode.NoPong)).inc();
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private close(c: Connection, code: number, reason: string): void {
    if (c.closing) return;
    c.closing = true;
    this.telemetry.metrics.wsCloses.labels(String(code)).inc();
    // A close reason is at most 123 bytes.
    c.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
  }

  /** Messages of one connection are handled one at a time, in order; those read meanwhile wait their turn. */
  private enqueue(c: Connection, data: Buffer, isBinary: boolean): void {
    if (c.closing) return;
    c.waiting.push({ data, isBinary, at: performance.now() });
    // Backpressure: past ANALYTICS_WS_MAX_IN_FLIGHT messages in hand, the socket is not read until one is answered.
    if (c.waiting.length >= this.config.ws.maxInFlight) c.socket.pause();
    if (!c.busy) void this.pump(c);
  }

  private async pump(c: Connection): Promise<void> {
    c.busy = true;
    try {
      for (let next = c.waiting.shift(); next; next = c.waiting.shift()) {
        if (c.waiting.length < this.config.ws.maxInFlight) c.socket.resume();
        if (c.closing) break;
        await this.handle(c, next.data, next.isBinary, next.at);
      }
    } finally {
      c.busy = false;
      if (this.draining) this.closeForRestart(c);
    }
  }

  private async handle(c: Connection, data: Buffer, isBinary: boolean, started: number): Promise<void> {
    if (data.length > this.limitBytes) {
      return this.close(
        c,
        CloseCode.TooBig,
        `message of ${Math.ceil(data.length / 1024)} KB over the ${this.config.ingestion.maxPayloadSizeKb} KB limit`,
      );
    }
    let message: WsMessage;
    try {
      message = parseMessage(isBinary ? data : data.toString('utf8'));
    } catch (err) {
      const bad = err as BadMessage;
      return this.send(c, { type: 'error', seq: bad.seq, error: bad.problem }, 'error', started);
    }
    if (this.draining) {
      return this.send(
        c,
        {
          type: 'retry_after',
          seq: message.seq,
          retry_after_s: 1,
          detail: 'The service is shutting down; nothing was stored. Reconnect and send again.',
        },
        'retry_after',
        started,
      );
    }
    const answer = await this.telemetry.span('ws.message', () => this.ingest(c, message), SpanKind.SERVER);
    const outcome =
      answer.type === 'error' && answer.error.type.endsWith('/rate-limited')
        ? 'rate_limited'
        : answer.type === 'retry_after'
          ? 'retry_after'
          : answer.type;
    this.send(c, answer, outcome, started);
    if (outcome !== 'rate_limited') c.denials = 0;
    else if (++c.denials >= FLOOD_DENIALS)
      this.close(c, CloseCode.RateLimited, `rate limit: ${c.denials} messages refused in a row; slow down`);
  }

  /** One message through the rate limits and the ingestion pipeline, as an HTTP request of the same kind. */
  private async ingest(c: Connection, message: WsMessage): Promise<WsAnswer> {
    const { seq } = message;
    try {
      const events =
        message.kind === 'batch' ? (Array.isArray(message.batch.events) ? message.batch.events.length : 1) : 1;
      await this.authorizer.limit(events, () => undefined, c.principal);
      if (message.kind === 'batch') {
        return { type: 'verdicts', seq, ...(await this.ingestion.ingestBatch(message.batch, c.principal)) };
      }
      return { type: 'verdicts', seq, ...summarize([await this.ingestion.ingestOne(message.event, c.principal)]) };
    } catch (err) {
      return this.answerFor(seq, err);
    }
  }

  private answerFor(seq: WsSeq, err: unknown): WsAnswer {
    // A rejected single event: the same verdict a batch would carry (HTTP answers it 400 with the verdict inside).
    if (err instanceof ProblemException && err.body.status === 400 && err.body.result) {
      return { type: 'verdicts', seq, ...summarize([err.body.result as never]) };
    }
    const p = toProblem(err, this.logger);
    if (p.body.status === 503) {
      return {
        type: 'retry_after',
        seq,
        retry_after_s: Number(p.headers['Retry-After'] ?? 1) || 1,
        detail: p.body.detail,
      };
    }
    return { type: 'error', seq, error: { ...p.body, ...retryAfter(p.headers) } };
  }

  private send(c: Connection, answer: WsAnswer, outcome: string, started: number): void {
    const m = this.telemetry.metrics;
    m.wsMessages.labels(outcome).inc();
    m.wsMessageDuration.observe((performance.now() - started) / 1000);
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(answer));
  }

  private closeForRestart(c: Connection): void {
    this.close(c, CloseCode.Restart, 'server restarting: everything received was answered; reconnect');
  }

  /**
   * Shutdown: no new connection; each open one is closed with 1012 once the messages it has are
   * answered (later messages are answered retry_after); resolves when all are closed, or at the grace.
   */
  drain(): Promise<void> {
    this.draining ??= this.runDrain();
    return this.draining;
  }

  private async runDrain(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    if (this.open.size === 0) return;
    this.logger.log(`Closing ${this.open.size} WebSocket connection(s) with 1012 once their messages are answered`);
    const closed = new Promise<void>((resolve) => {
      this.allClosed = resolve;
    });
    for (const c of this.open) if (!c.busy) this.closeForRestart(c);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((r) => (timer = setTimeout(r, this.config.shutdown.graceMs)))]);
    clearTimeout(timer);
    for (const c of this.open) c.ws.terminate();
  }
}

function retryAfter(headers: Record<string, string>): { retry_after_s?: number } {
  const v = Number(headers['Retry-After']);
  return Number.isFinite(v) && v > 0 ? { retry_after_s: v } : {};
}

function notFound(path: string): ProblemBody {
  return {
    type: 'https://analytics.dev/problems/not-found',
    title: 'Not Found',
    status: 404,
    detail: `No WebSocket endpoint at ${path.slice(0, 200)}; ingestion is at ${WS_PATH}.`,
  };
}

/** Answers a refused upgrade as plain HTTP (the problem the REST endpoints would answer) and closes. */
function refuseUpgrade(socket: Duplex, body: ProblemBody, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status] ?? 'Error'}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}
