import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { readRawBody } from '../../common/json-body';
import { problem } from '../../common/problem';
import { sendProblem } from '../../common/raw-http';
import type { OtlpSignal } from './otlp-proto';
import { MalformedOtlp, OtlpEncoding, readExport } from './otlp-request';

export const OTLP_PREFIX = '/api/v1/analytics/otlp';
export const OTLP_PATHS: Record<OtlpSignal, string> = {
  traces: `${OTLP_PREFIX}/v1/traces`,
  logs: `${OTLP_PREFIX}/v1/logs`,
};
/** The paths an exporter posts to when OTEL_EXPORTER_OTLP_ENDPOINT is the service's root URL. */
const ALIASES = new Set(['/v1/traces', '/v1/logs']);

const PROTOBUF = /^application\/(x-)?protobuf\s*(;|$)/i;
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The OTLP lane's body reader, in front of the auth guard (whose events/s limit counts the spans or
 * records): protobuf or JSON, identity, gzip, deflate or br, within ANALYTICS_OTLP_MAX_PAYLOAD_KB;
 * the decoded export request becomes the request body. `/v1/traces` and `/v1/logs` are answered as
 * their long paths under OTLP_PREFIX.
 */
export function otlpBody(limitKb: number, aliases = true): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // Mounted under a path (a host application's middleware), Express strips it from req.url.
    const url = req.originalUrl || req.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (aliases && ALIASES.has(path)) req.url = OTLP_PREFIX + req.url;
    const signal = signalOf(aliases && ALIASES.has(path) ? OTLP_PREFIX + path : path);
    if (!signal || req.method !== 'POST') return next();
    const type = req.headers['content-type'] ?? '';
    const encoding: OtlpEncoding | null = PROTOBUF.test(type) ? 'protobuf' : JSON_TYPE.test(type) ? 'json' : null;
    if (!encoding) {
      return sendProblem(
        res,
        problem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          `OTLP/HTTP bodies are application/x-protobuf or application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'no Content-Type'}).`,
        ),
        {},
      );
    }
    readRawBody(req, limitKb, 'ANALYTICS_OTLP_MAX_PAYLOAD_KB').then(
      (read) => {
        if ('problem' in read) return sendProblem(res, read.problem, {});
        try {
          req.body = readExport(signal, encoding, read.bytes);
        } catch (err) {
          if (!(err instanceof MalformedOtlp)) return next(err);
          return sendProblem(res, problem(400, 'invalid-otlp', 'Invalid OTLP request', err.message), {});
        }
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

function signalOf(path: string): OtlpSignal | null {
  return path === OTLP_PATHS.traces ? 'traces' : path === OTLP_PATHS.logs ? 'logs' : null;
}
