import type { components } from './openapi.js';

export type Problem = components['schemas']['ProblemDto'];

/**
 * Why the client could not do what was asked:
 * - `http`: the service answered an error (status and its problem+json body in `problem`);
 * - `network`: no answer (connection refused or reset, DNS, aborted) after every retry;
 * - `overflow`: the buffer was full and this event was let go (see `batch.overflow`);
 * - `closed`: the client was closed before the event could be sent.
 */
export type AnalyticsErrorCode = 'http' | 'network' | 'overflow' | 'closed';

export class AnalyticsError extends Error {
  override readonly name = 'AnalyticsError';

  constructor(
    readonly code: AnalyticsErrorCode,
    message: string,
    readonly details: {
      /** The HTTP status of an `http` error. */
      status?: number;
      /** The problem+json body of an `http` error. */
      problem?: Problem;
      /** The events concerned (their event_id), for errors of tracking. */
      eventIds?: string[];
      /** Attempts made before giving up. */
      attempts?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message);
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get problem(): Problem | undefined {
    return this.details.problem;
  }
}
