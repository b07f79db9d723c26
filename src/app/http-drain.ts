import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { problem } from '../common/problem';
import { sendProblem } from '../common/raw-http';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { IngestionService } from '../modules/ingestion/ingestion.service';

/** What a drain did: requests answered while it waited, and those still open when the grace ran out. */
export interface DrainResult {
  answered: number;
  cutOff: number;
}

/**
 * The api's HTTP drain on shutdown. Sits in front of the server's request listener (after the
 * ingest route is installed) and counts the requests in flight. `drain()` stops accepting
 * connections (server.close, which also closes idle keep-alive sockets), marks every answer from
 * then on `Connection: close` so each socket ends after its current request, and waits, at most
 * ANALYTICS_SHUTDOWN_GRACE_MS, until every request it has is answered, bodies still arriving
 * included; the single events waiting to be grouped are sent at once, and so are those of requests
 * still arriving. Past the grace a request arriving on a still open connection is answered 503 with
 * Retry-After, and the sockets left are closed.
 *
 * It runs before anything the requests use is closed: the signal handler (start-role) calls it
 * before app.close(), and `beforeApplicationShutdown` calls it when the application is closed
 * another way, which is before Nest closes the Postgres pool, Redis and the queues
 * (onApplicationShutdown).
 */
@Injectable()
export class HttpDrain implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private readonly open = new Set<ServerResponse>();
  private server: Server | null = null;
  private draining: Promise<DrainResult> | null = null;
  private graceOver = false;
  private answered = 0;
  private onIdle: (() => void) | null = null;
  private readonly longLived: (() => Promise<void>)[] = [];

  constructor(
    @Inject(AnalyticsConfig) private readonly config: AnalyticsConfig,
    private readonly modules: ModuleRef,
  ) {}

  /** Puts the drain in front of the server's request listeners. */
  install(server: Server): void {
    this.server = server;
    const listeners = server.listeners('request') as RequestListener[];
    if (!listeners.length) throw new Error('the HTTP server has no request listener to drain');
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) {
        res.setHeader('Connection', 'close');
        if (this.graceOver) return refuse(res);
      }
      this.open.add(res);
      res.once('close', () => this.done(res));
      for (const listener of listeners) listener(req, res);
    });
  }

  /**
   * Connections that outlive a request (WebSocket ingestion, the live stream) are ended by their
   * owners: `end` runs when the drain begins, and the drain waits for it within the same grace.
   */
  onDrain(end: () => Promise<void>): void {
    this.longLived.push(end);
  }

  /** Requests received and not yet answered. */
  get inFlight(): number {
    return this.open.size;
  }

  get isDraining(): boolean {
    return this.draining !== null;
  }

  /** Stops accepting, waits for the requests in flight (bounded by the grace); once only. */
  drain(): Promise<DrainResult> {
    this.draining ??= this.run();
    return this.draining;
  }

  beforeApplicationShutdown(): Promise<DrainResult> {
    return this.drain();
  }

  private async run(): Promise<DrainResult> {
    const server = this.server;
    if (!server) return { answered: 0, cutOff: 0 };
    const graceMs = this.config.shutdown.graceMs;
    for (const res of this.open) if (!res.headersSent) res.setHeader('Connection', 'close');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Node closes the idle keep-alive sockets in close(); those of requests in flight end after their answer.
    server.closeIdleConnections();
    this.logger.log(
      `Draining ${this.open.size} request(s) in flight, for at most ${graceMs} ms (ANALYTICS_SHUTDOWN_GRACE_MS); accepting no new connections`,
    );
    // Single events waiting to be grouped go now (and later ones at once) rather than after the linger.
    const waiting = this.modules.get(IngestionService, { strict: false }).flushOnShutdown();
    if (waiting) this.logger.log(`Sent the ${waiting} single event(s) waiting to be grouped`);
    const ended = Promise.all(this.longLived.map((end) => end()));
    const idle = new Promise<void>((resolve) => {
      this.onIdle = resolve;
      if (this.open.size === 0) resolve();
    });
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      Promise.all([idle, closed, ended]).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    const result = { answered: this.answered, cutOff: this.open.size };
    if (inTime) {
      this.logger.log(`Drained: ${result.answered} request(s) answered during shutdown`);
    } else {
      this.graceOver = true;
      this.logger.warn(
        `Grace of ${graceMs} ms (ANALYTICS_SHUTDOWN_GRACE_MS) over: ${result.answered} request(s) answered, ${result.cutOff} cut off`,
      );
      server.closeAllConnections();
    }
    return result;
  }

  private done(res: ServerResponse): void {
    if (!this.open.delete(res)) return;
    if (this.draining) this.answered++;
    if (this.open.size === 0) this.onIdle?.();
  }
}

function refuse(res: ServerResponse): void {
  sendProblem(
    res,
    problem(503, 'unavailable', 'Service unavailable', 'The service is shutting down; retry the request.'),
    { 'Retry-After': '1' },
  );
}
