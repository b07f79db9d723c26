import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, Server, ServerResponse } from 'node:http';
import { hasBody, readJsonBody } from '../../common/json-body';
import { toProblem } from '../../common/problem.filter';
import { requestProtocol, sendJson, sendProblem } from '../../common/raw-http';
import { eventsCarried, RequestAuthorizer } from '../auth/request-authorizer';
import { AnalyticsConfig } from '../config/analytics-config';
import { tagIngestRoute } from '../observability/request-tags';
import { IngestionService } from './ingestion.service';

export const EVENTS_PATH = '/api/v1/analytics/events';
export const BATCH_PATH = '/api/v1/analytics/events/batch';
/** The content types this route reads itself; any other goes to Express's body parser (415, charsets). */
const PLAIN_JSON = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * The two ingestion endpoints, answered on the HTTP server before Express sees the request.
 *
 * They are the service's hottest path, and Express's router, its request and response decoration
 * and Nest's guard, pipe and filter chain cost more CPU per request than the ingestion itself. This
 * route runs the same steps with the same components and the same answers: the RequestAuthorizer
 * (credential, scope and CORS origin from the headers, before the body is read; the rate limits
 * once the body has told how many events it carries), the same body reader (readJsonBody),
 * IngestionService, the security headers helmet sets, problem+json errors. Requests it does not
 * claim (another path or method, a compressed body, another charset or content type) go on to
 * Express and the IngestionController, which answer them the same way.
 */
@Injectable()
export class IngestRoute {
  private readonly logger = new Logger('HTTP');
  private readonly limitKb: number;
  private headers: OutgoingHttpHeaders = {};

  constructor(
    @Inject(AnalyticsConfig) config: AnalyticsConfig,
    private readonly authorizer: RequestAuthorizer,
    private readonly ingestion: IngestionService,
  ) {
    this.limitKb = config.ingestion.maxPayloadSizeKb;
  }

  /** Puts this route in front of the server's request listener (the Express app), with these headers on every answer. */
  install(server: Server, headers: OutgoingHttpHeaders): void {
    this.headers = headers;
    const [next] = server.listeners('request') as RequestListener[];
    if (!next) throw new Error('the HTTP server has no request listener to put the ingest route in front of');
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const kind = claims(req);
      if (kind) void this.handle(kind, req, res);
      else next(req, res);
    });
  }

  async handle(kind: 'single' | 'batch', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers: OutgoingHttpHeaders = { ...this.headers };
    const setHeader = (name: string, value: string) => {
      headers[name] = value;
    };
    tagIngestRoute(req, kind === 'single' ? EVENTS_PATH : BATCH_PATH);
    try {
      // Credential, scope and CORS origin are in the headers: a request failing them is answered
      // before a byte of its body is read (the server drops the rest). The events/s limit needs the
      // body's event count, so it is taken once the body is read, as the guard takes it.
      const caller = { headers: req.headers, protocol: requestProtocol(req), socket: req.socket };
      const principal = await this.authorizer.admit(caller, 'ingest', setHeader);
      tagIngestRoute(req, kind === 'single' ? EVENTS_PATH : BATCH_PATH, principal);
      const read = await readJsonBody(req, this.limitKb, 'ANALYTICS_MAX_PAYLOAD_KB');
      // Answered as Express answers a body it cannot read: before its guard, so without the headers the checks set.
      if ('problem' in read) return sendProblem(res, read.problem, { ...this.headers });
      const { body } = read;
      await this.authorizer.limit(eventsCarried(kind, body), setHeader, principal);
      const answer =
        kind === 'single'
          ? await this.ingestion.ingestOne(body, principal)
          : await this.ingestion.ingestBatch(body, principal);
      sendJson(res, 202, answer, headers);
    } catch (err) {
      const p = toProblem(err, this.logger);
      sendProblem(res, p.body, { ...headers, ...p.headers });
    }
  }
}

/** Which endpoint a request is for, if this route answers it. */
export function claims(req: IncomingMessage): 'single' | 'batch' | null {
  if (req.method !== 'POST') return null;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const kind: 'single' | 'batch' | null = path === EVENTS_PATH ? 'single' : path === BATCH_PATH ? 'batch' : null;
  if (!kind) return null;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return null;
  if (hasBody(req) && !PLAIN_JSON.test(req.headers['content-type'] ?? '')) return null;
  return kind;
}
