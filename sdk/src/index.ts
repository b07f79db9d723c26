/**
 * @analytics-service/sdk: a typed client of the analytics service for Node 20+ and browsers. It
 * imports nothing of Node's: one entry serves both.
 */
export { createAnalyticsClient } from './client.js';
export type { AnalyticsClient, AnalyticsClientOptions, EventSource, TrackEvent } from './client.js';
export { AnalyticsError } from './errors.js';
export type { AnalyticsErrorCode, Problem } from './errors.js';
export { analyticsHelpers } from './helpers.js';
export type { AnalyticsHelpers, ToolExecutionOptions, VoiceMetrics, VoiceTurn } from './helpers.js';
export { backoffMs, DEFAULT_RETRY, RETRIED_STATUSES, retryAfterMs, retryPolicy } from './retry.js';
export type { RetryOptions, RetryPolicy } from './retry.js';
export type {
  BatchOptions,
  EventDto,
  EventVerdict,
  IngestSummary,
  OverflowPolicy,
  Timers,
  TrackedVerdict,
  VerdictStatus,
} from './tracker.js';
export type { FetchLike, RetryNotice } from './transport.js';
export type { components, operations, paths } from './openapi.js';
