import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { problem, ProblemBody, ProblemException } from './problem';
import { sendProblem } from './raw-http';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable content',
  429: 'Too many requests',
  503: 'Service unavailable',
};

/** Renders every error as application/problem+json; anything unexpected is logged and becomes a bare 500. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const { body, headers } = toProblem(exception, this.logger);
    sendProblem(host.switchToHttp().getResponse<Response>(), body, headers);
  }
}

/** The problem answer for anything thrown while handling a request; the unexpected is logged and becomes a bare 500. */
export function toProblem(exception: unknown, logger: Logger): { body: ProblemBody; headers: Record<string, string> } {
  if (exception instanceof ProblemException) return { body: exception.body, headers: exception.headers };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const r = exception.getResponse();
    const message = typeof r === 'string' ? r : (r as { message?: unknown }).message;
    // A handler may pass any value as the message; String() is the detail it has always given.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    const detail = Array.isArray(message) ? message.join('; ') : String(message ?? exception.message);
    return { body: problem(status, `http-${status}`, TITLES[status] ?? 'Error', detail), headers: {} };
  }
  logger.error(`Unhandled error: ${(exception as Error)?.stack ?? String(exception)}`);
  return {
    body: problem(500, 'internal', 'Internal error', 'The service failed to handle this request; it has been logged.'),
    headers: {},
  };
}
