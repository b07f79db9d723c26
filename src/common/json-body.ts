import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import getRawBody from 'raw-body';
import { problem, ProblemBody } from './problem';

/** A body read and parsed, or the problem that answers it. */
export type BodyRead = { body: unknown } | { problem: ProblemBody };

/** Whether the request carries a body to parse (an empty Content-Length is none). */
export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/**
 * The one body reader of both HTTP lanes (the ingest route and Express): the size limit enforced
 * while reading, on the decompressed bytes (before parsing); a UTF charset decoded, a BOM skipped,
 * an empty body read as {}; every way a body can be wrong answered with a problem naming the cause.
 * A body refused midway is read to its end and dropped, so the connection stays usable.
 */
export async function readJsonBody(req: IncomingMessage, limitKb: number, limitVariable: string): Promise<BodyRead> {
  if (!hasBody(req)) return { body: undefined };
  const charset = (CHARSET.exec(req.headers['content-type'] ?? '')?.[1] ?? 'utf-8').toLowerCase();
  if (!charset.startsWith('utf-')) return refuse(req, unsupportedCharset(charset));
  const coding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let decoder: Transform | null = null;
  if (coding !== 'identity') {
    const make = DECODERS[coding];
    if (!make) return refuse(req, unsupportedEncoding(coding));
    decoder = req.pipe(make());
  }
  const stream: Readable = decoder ?? req;
  let text: string;
  try {
    text = await getRawBody(stream, {
      limit: limitKb * 1024,
      length: decoder ? undefined : req.headers['content-length'],
      encoding: charset,
    });
  } catch (err) {
    if (decoder) {
      req.unpipe(decoder);
      decoder.destroy();
    }
    return refuse(req, readProblem(err as RawBodyError, charset, limitKb, limitVariable));
  }
  if (text.length === 0) return { body: {} };
  try {
    return { body: JSON.parse(text) };
  } catch (err) {
    return { problem: invalidJsonProblem(String((err as Error).message)) };
  }
}

/** A body read as bytes (decompressed, within the limit), or the problem that answers it: the OTLP lane's reader. */
export async function readRawBody(
  req: IncomingMessage,
  limitKb: number,
  limitVariable: string,
): Promise<{ bytes: Buffer } | { problem: ProblemBody }> {
  if (!hasBody(req)) return { bytes: Buffer.alloc(0) };
  const coding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let decoder: Transform | null = null;
  if (coding !== 'identity') {
    const make = DECODERS[coding];
    if (!make) return refuse(req, unsupportedEncoding(coding));
    decoder = req.pipe(make());
  }
  try {
    const bytes = await getRawBody(decoder ?? req, {
      limit: limitKb * 1024,
      length: decoder ? undefined : req.headers['content-length'],
    });
    return { bytes };
  } catch (err) {
    if (decoder) {
      req.unpipe(decoder);
      decoder.destroy();
    }
    return refuse(req, readProblem(err as RawBodyError, 'binary', limitKb, limitVariable));
  }
}

type RawBodyError = Error & { type?: string; status?: number };

function readProblem(err: RawBodyError, charset: string, limitKb: number, limitVariable: string): ProblemBody {
  switch (err.type) {
    case 'entity.too.large':
      return tooLargeProblem(limitKb, limitVariable);
    case 'request.aborted':
      return abortedProblem();
    case 'encoding.unsupported':
      return unsupportedCharset(charset);
    default:
      // A corrupt compressed stream, or a body shorter or longer than its Content-Length.
      return problem(
        400,
        'invalid-body',
        'Invalid body',
        `The body could not be read: ${String(err.message ?? 'unknown error').slice(0, 200)}`,
      );
  }
}

/** Answers after the rest of the body has arrived (or the client has gone), dropping it. */
function refuse(req: IncomingMessage, body: ProblemBody): Promise<{ problem: ProblemBody }> {
  if (req.complete || req.destroyed) return Promise.resolve({ problem: body });
  return new Promise((resolve) => {
    const done = () => resolve({ problem: body });
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
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
const unsupportedCharset = (charset: string): ProblemBody =>
  problem(415, 'unsupported-charset', 'Unsupported charset', `The body must be UTF-8 (got ${charset.slice(0, 40)}).`);
const unsupportedEncoding = (coding: string): ProblemBody =>
  problem(
    415,
    'unsupported-encoding',
    'Unsupported content encoding',
    `Content-Encoding ${coding.slice(0, 40)} is not supported; send identity, gzip, deflate or br.`,
  );
