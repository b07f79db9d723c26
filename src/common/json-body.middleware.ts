import { NextFunction, Request, RequestHandler, Response } from 'express';
import { readJsonBody } from './json-body';
import { problem } from './problem';
import { sendProblem } from './raw-http';

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/;

/**
 * Express's lane: JSON bodies read by the same reader as the ingest route (readJsonBody), and any
 * other content type answered 415.
 */
export function jsonBody(limitKb: number, limitVariable: string): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // GETs carry no body; a body another reader consumed (the OTLP lane's) is not read again.
    if (req.method === 'GET' || req.method === 'HEAD' || req.readableEnded || req.body !== undefined) return next();
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (
      !JSON_TYPE.test(type) &&
      (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0)
    ) {
      return sendProblem(
        res,
        problem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          `Send the body as JSON with Content-Type: application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'no Content-Type'}).`,
        ),
        {},
      );
    }
    readJsonBody(req, limitKb, limitVariable).then(
      (read) => {
        if ('problem' in read) return sendProblem(res, read.problem, {});
        req.body = read.body;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}
