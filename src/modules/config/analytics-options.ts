import { AnalyticsConfig } from './analytics-config';
import { ConfigError } from './environment';

/**
 * The product brief's options object (`initializeAnalytics({ ingestion, reporting, privacy })`):
 * each field optional, each the same setting as an environment variable, which stays the default
 * source. Connections (DATABASE_URL, REDIS_URL) and every other setting come from the environment.
 */
export interface AnalyticsOptions {
  ingestion?: {
    /** ANALYTICS_MAX_BATCH_SIZE: events per batch request (1 to 10,000; default 500). */
    maxBatchSize?: number;
    /** ANALYTICS_MAX_PAYLOAD_KB: largest request body in KB (default 500). */
    maxPayloadSizeKb?: number;
    /** ANALYTICS_CLOCK_SKEW_TOLERANCE_MS: how far ahead occurred_at may be (default 24 h). */
    clockSkewToleranceMs?: number;
    /** ANALYTICS_DEDUPE_WINDOW_MS: the fast dedupe path's window (default 60 s); the ledger dedupes for ever. */
    dedupeWindowMs?: number;
  };
  reporting?: {
    /** ANALYTICS_REPORT_TIMEOUT_MS: a report's deadline (default 10 s). */
    defaultTimeoutMs?: number;
    /** ANALYTICS_ENABLE_ROLLUPS: fold events into rollups and answer reports from them (default true). */
    cacheRollups?: boolean;
    /** ANALYTICS_MAX_TIMESERIES_POINTS: points per timeseries (default 10,000). */
    maxTimeseriesPoints?: number;
  };
  privacy?: {
    /** Always true: events are sanitized before they are queued or stored; false is refused. */
    sanitizeEventData?: boolean;
    /** ANALYTICS_RETENTION_DAYS: how long raw events are kept (default 90). */
    retentionDays?: number;
  };
}

type Section = 'ingestion' | 'reporting' | 'privacy';
type Kind = 'integer' | 'boolean';

/** Each option: its section, name, kind and the variable it sets. */
const OPTIONS: [Section, string, Kind, string][] = [
  ['ingestion', 'maxBatchSize', 'integer', 'ANALYTICS_MAX_BATCH_SIZE'],
  ['ingestion', 'maxPayloadSizeKb', 'integer', 'ANALYTICS_MAX_PAYLOAD_KB'],
  ['ingestion', 'clockSkewToleranceMs', 'integer', 'ANALYTICS_CLOCK_SKEW_TOLERANCE_MS'],
  ['ingestion', 'dedupeWindowMs', 'integer', 'ANALYTICS_DEDUPE_WINDOW_MS'],
  ['reporting', 'defaultTimeoutMs', 'integer', 'ANALYTICS_REPORT_TIMEOUT_MS'],
  ['reporting', 'cacheRollups', 'boolean', 'ANALYTICS_ENABLE_ROLLUPS'],
  ['reporting', 'maxTimeseriesPoints', 'integer', 'ANALYTICS_MAX_TIMESERIES_POINTS'],
  ['privacy', 'retentionDays', 'integer', 'ANALYTICS_RETENTION_DAYS'],
];
const SECTIONS: Section[] = ['ingestion', 'reporting', 'privacy'];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The service's configuration from the brief's options over the environment: an option set wins
 * over its variable. Anything unknown or of the wrong type is a ConfigError naming the option;
 * a value out of range is refused by the same rules as the variable, named as the option.
 */
export function configFromOptions(
  options: AnalyticsOptions = {},
  env: Record<string, string | undefined> = process.env,
): AnalyticsConfig {
  const problems: string[] = [];
  const set: Record<string, string> = {};
  const byVariable = new Map<string, string>();
  if (!isObject(options))
    throw new ConfigError('Invalid analytics options: they must be an object { ingestion, reporting, privacy }');
  for (const key of Object.keys(options)) {
    if (!SECTIONS.includes(key as Section)) problems.push(`${key} is not an option (known: ${SECTIONS.join(', ')})`);
  }
  for (const section of SECTIONS) {
    const given: unknown = options[section];
    if (given === undefined) continue;
    if (!isObject(given)) {
      problems.push(`${section} must be an object`);
      continue;
    }
    const known = OPTIONS.filter((o) => o[0] === section).map((o) => o[1]);
    if (section === 'privacy') known.push('sanitizeEventData');
    for (const key of Object.keys(given)) {
      if (!known.includes(key)) problems.push(`${section}.${key} is not an option (known: ${known.join(', ')})`);
    }
    for (const [, name, kind, variable] of OPTIONS.filter((o) => o[0] === section)) {
      const value = given[name];
      if (value === undefined) continue;
      const path = `${section}.${name}`;
      if (kind === 'integer' && !Number.isSafeInteger(value))
        problems.push(`${path} must be an integer (got ${JSON.stringify(value)})`);
      else if (kind === 'boolean' && typeof value !== 'boolean')
        problems.push(`${path} must be true or false (got ${JSON.stringify(value)})`);
      else {
        set[variable] = JSON.stringify(value);
        byVariable.set(variable, path);
      }
    }
    if (section === 'privacy' && given.sanitizeEventData !== undefined && given.sanitizeEventData !== true) {
      problems.push(
        `privacy.sanitizeEventData cannot be turned off (got ${JSON.stringify(given.sanitizeEventData)}): events are always sanitized, so no personal data reaches the queue or the database`,
      );
    }
  }
  if (problems.length) throw new ConfigError(`Invalid analytics options: ${problems.join('; ')}`);
  try {
    return AnalyticsConfig.fromEnvironment({ ...env, ...set });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The environment's rules, said of the option that set the variable.
    let message = err.message;
    for (const [variable, path] of byVariable) message = message.replaceAll(`${variable} `, `${path} (${variable}) `);
    throw new ConfigError(message);
  }
}
