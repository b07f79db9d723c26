import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { problem, ProblemBody } from './problem';
import { sendProblem } from './raw-http';

const send = (res: Response, body: ProblemBody): void => sendProblem(res, body, {});

/** Whether the request carries a body to parse (an empty Content-Length is none). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export const tooLargeProblem = (limitKb: number, limitVariable: string): ProblemBody =>
  problem(
    413,
    'payload-too-large',
    'Payload too large',
    `The body is larger than ${limitKb} KB, the limit set by ${limitVariable}. Split the batch.`,
    { limit_kb: limitKb },
  );
export const invalidJsonProblem = (message: string): ProblemBody =>
  problem(400, 'invalid-json', 'Invalid JSON', `The body is not valid JSON: ${message.slice(0, 200)}`);
export const abortedProblem = (): ProblemBody =>
  problem(400, 'request-aborted', 'Request aborted', 'The client closed the connection before the body was complete.');

/**
 * Parses JSON bodies with the size limit enforced while reading (before parsing), and answers
 * every way a body can be wrong with a problem+json 4xx naming the cause.
 */
export function jsonBody(limitKb: number, limitVariable: string): RequestHandler {
  const parse = express.json({ limit: limitKb * 1024, strict: false, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasBody(req) || req.method === 'GET' || req.method === 'HEAD') return next();
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/.test(type)) {
      return send(
        res,
        problem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          `Send the body as JSON with Content-Type: application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'no Content-Type'}).`,
        ),
      );
    }
    parse(req, res, (err?: unknown) => {
      if (!err) return next();
      const e = err as { type?: string; status?: number; message?: string; charset?: string; encoding?: string };
      switch (e.type) {
        case 'entity.too.large':
          return send(res, tooLargeProblem(limitKb, limitVariable));
        case 'entity.parse.failed':
          return send(res, invalidJsonProblem(String(e.message)));
        case 'charset.unsupported':
          return send(
            res,
            problem(415, 'unsupported-charset', 'Unsupported charset', `The body must be UTF-8 (got ${e.charset}).`),
          );
        case 'encoding.unsupported':
          return send(
            res,
            problem(
              415,
              'unsupported-encoding',
              'Unsupported content encoding',
              `Content-Encoding ${e.encoding} is not supported; send identity, gzip or deflate.`,
            ),
          );
        case 'request.aborted':
          return send(res, abortedProblem());
        default:
          return send(
            res,
            problem(
              e.status && e.status >= 400 && e.status < 500 ? e.status : 400,
              'invalid-body',
              'Invalid body',
              `The body could not be read: ${String(e.message ?? 'unknown error').slice(0, 200)}`,
            ),
          );
      }
    });
  };
}
