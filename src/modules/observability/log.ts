import type { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { DestinationStream, Logger as Pino } from 'pino';
import { sanitizeText } from '../privacy/sanitizer';

export type Role = 'api' | 'worker';

/** Nest's levels to pino's. */
const LEVELS: Record<string, pino.Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * The process's one logger: pino, one JSON object per line (`LOG_FORMAT=json`, the default) or
 * coloured lines for a terminal (`LOG_FORMAT=pretty`). Every string that reaches a line, the
 * message and each string field alike, goes through the sanitizer that cleans events first: an
 * error message may quote what a client sent.
 */
export function createRootLogger(
  opts: { role: Role; level: string; format: 'json' | 'pretty'; ownHosts?: string[] },
  destination?: DestinationStream,
): Pino {
  const clean = cleaner(opts.ownHosts ?? []);
  const options: pino.LoggerOptions = {
    level: LEVELS[opts.level] ?? 'info',
    base: { role: opts.role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map(clean) as Parameters<typeof method>);
      },
    },
  };
  if (destination) return pino(options, destination);
  if (opts.format === 'pretty') {
    // Loaded only when asked for: JSON lines need no formatter.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as (o: object) => DestinationStream;
    return pino(options, pretty({ colorize: true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(options, stdoutDestination());
}

/** Lines gathered before one write to stdout, and the longest a line waits for the others. */
const LOG_BUFFER_BYTES = 4096;
const LOG_FLUSH_MS = 100;

/**
 * Stdout, written in blocks: one write per LOG_BUFFER_BYTES of lines, or every LOG_FLUSH_MS when
 * quieter, instead of one write per line (a write was a third of what a request's log line cost
 * the api under load). What is buffered is written synchronously when the process exits; a process
 * killed with SIGKILL loses at most the last LOG_FLUSH_MS of lines.
 */
function stdoutDestination(): DestinationStream {
  const dest = pino.destination({ fd: 1, sync: false, minLength: LOG_BUFFER_BYTES });
  const timer = setInterval(() => dest.flush(), LOG_FLUSH_MS);
  timer.unref();
  process.once('exit', () => {
    clearInterval(timer);
    try {
      dest.flushSync();
    } catch {
      /* stdout already closed: nothing more can be written */
    }
  });
  return dest;
}

/** The fields of a line written by a checkedLineWriter. */
export type CheckedFields = Record<string, string | number | undefined>;

/**
 * A writer of one kind of frequent line (a request's): the same JSON line the root logger writes,
 * built directly and handed to its destination, without pino's per-call machinery (its hooks,
 * serializers and formatters took most of what a request's line cost the api). The fields are the
 * ones the sanitizer skips anyway (CHECKED_FIELDS: ids the service generated or validated, route
 * templates) and numbers; any other string still goes through the sanitizer, as the message does.
 */
export function checkedLineWriter(root: Pino, msg: string): (fields: CheckedFields) => void {
  const stream = (root as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const bindings = root as unknown as Record<symbol, string>;
  const tail = `,"msg":${JSON.stringify(sanitizeText(msg))}}\n`;
  let lastMs = -1;
  let lastIso = '';
  return (fields) => {
    if (!root.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    let line = `{"level":"info","time":"${lastIso}"${bindings[pino.symbols.chindingsSym]}`;
    for (const k of Object.keys(fields)) {
      const v = fields[k];
      if (v === undefined) continue;
      const value =
        typeof v === 'number'
          ? Number.isFinite(v)
            ? String(v)
            : 'null'
          : JSON.stringify(CHECKED_FIELDS.has(k) ? v : sanitizeText(v));
      line += `,${JSON.stringify(k)}:${value}`;
    }
    stream.write(line + tail);
  };
}

/** Nest's logger on top of the root logger (nestjs-pino): `new Logger('Context')` lines become JSON with `context`. */
export function nestLogger(root: Pino): LoggerService {
  return new NestPinoLogger(new PinoLogger({ pinoHttp: { logger: root } }), {});
}

/**
 * Fields whose values the service itself produced or checked (ids, route templates, outcomes):
 * they skip the detectors, whose memo of clean strings a fresh id per line would only churn.
 */
const CHECKED_FIELDS = new Set([
  'request_id',
  'tenant_id',
  'trace_id',
  'span_id',
  'route',
  'method',
  'lane',
  'job_id',
  'job',
  'queue',
  'outcome',
  'context',
  'address',
]);

/**
 * The sanitizer for log values. The service's own configured addresses (its listening host, the
 * Postgres and Redis hosts) are configuration, not personal data: they are set aside before the
 * detectors run and put back after, so that "Redis at 10.0.3.7:6379" stays readable.
 */
function cleaner(ownHosts: string[]): (value: unknown) => unknown {
  const hosts = [...new Set(ownHosts.filter((h) => h.length >= 3))].sort((a, b) => b.length - a.length);
  const text = (s: string): string => {
    if (!hosts.length || !hosts.some((h) => s.includes(h))) return sanitizeText(s);
    const parts = s.split(new RegExp(hosts.map(escape).join('|'), 'g'));
    const found = s.match(new RegExp(hosts.map(escape).join('|'), 'g')) ?? [];
    return parts.map((p, i) => sanitizeText(p) + (found[i] ?? '')).join('');
  };
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (value instanceof Error) {
      const e = new Error(text(value.message));
      e.name = value.name;
      e.stack = value.stack ? text(value.stack) : undefined;
      return e;
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      // Copied only when a field changes: most lines (a request's, a job's) have nothing to clean.
      const fields = value as Record<string, unknown>;
      let out: Record<string, unknown> | null = null;
      for (const k of Object.keys(fields)) {
        const v = fields[k];
        if (CHECKED_FIELDS.has(k) || !(typeof v === 'string' || v instanceof Error)) continue;
        const cleaned = clean(v);
        if (cleaned !== v) (out ??= { ...fields })[k] = cleaned;
      }
      return out ?? value;
    }
    return value;
  };
  return clean;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
