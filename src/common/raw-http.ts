import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, ProblemBody } from './problem';

type Middleware = (req: unknown, res: unknown, next: (err?: unknown) => void) => void;

/**
 * The headers a response-decorating middleware (helmet) sets, recorded once by running it against
 * a recording response, so that a route answering below Express sends the same ones.
 */
export function recordedHeaders(middleware: Middleware): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  middleware(
    { headers: {} },
    {
      setHeader: (name: string, value: string) => {
        headers[name] = value;
      },
      removeHeader: (name: string) => {
        delete headers[name];
      },
      getHeader: (name: string) => headers[name],
    },
    () => undefined,
  );
  return headers;
}

/** The request's scheme as Express reports it with `trust proxy` on: X-Forwarded-Proto first. */
export function requestProtocol(req: IncomingMessage): string {
  const own = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  const header = req.headers['x-forwarded-proto'];
  const value = typeof header === 'string' && header ? header : own;
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim();
}

/** Answers with a JSON body, as Express's res.json would. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

/** Answers with a problem+json body: every error answer of the service, whichever layer gives it. */
export function sendProblem(res: ServerResponse, body: ProblemBody, headers: OutgoingHttpHeaders): void {
  send(res, body.status, `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, JSON.stringify(body), headers);
}

function send(res: ServerResponse, status: number, type: string, text: string, headers: OutgoingHttpHeaders): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
