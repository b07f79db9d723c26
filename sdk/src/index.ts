/**
 * @analytics-service/sdk: a typed client of the analytics service for Node 20+ and browsers. It
 * imports nothing of Node's: one entry serves both.
 */
export { createAnalyticsClient } from './client';
export type { AnalyticsClient, AnalyticsClientOptions, EventSource, TrackEvent } from './client';
export { AnalyticsError } from './errors';
export type { AnalyticsErrorCode, Problem } from './errors';
export { analyticsHelpers } from './helpers';
export type { AnalyticsHelpers, ToolExecutionOptions, VoiceMetrics } from './helpers';
export { backoffMs, DEFAULT_RETRY, RETRIED_STATUSES, retryAfterMs, retryPolicy } from './retry';
export type { RetryOptions, RetryPolicy } from './retry';
export type {
  BatchOptions,
  EventDto,
  EventVerdict,
  IngestSummary,
  OverflowPolicy,
  Timers,
  TrackedVerdict,
  VerdictStatus,
} from './tracker';
export type { FetchLike, RetryNotice } from './transport';
export type { components, operations, paths } from './openapi';
