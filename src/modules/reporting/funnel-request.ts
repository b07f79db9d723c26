import { ProblemException } from '../../common/problem';
import { isJsonObject, isUuid } from '../../common/validation';
import { EVENT_NAME_PATTERN } from '../schema-registry/envelope.schema';
import { parseReportMicros } from './report-bounds';

/**
 * The funnel's request contract in one place: every field checked, every refusal a 400 problem
 * naming the field by JSON pointer (`errors[0].pointer`) with a sentence saying what to send.
 */
export type Scalar = string | number | boolean;
export type FilterOp = 'eq' | 'neq' | 'in' | 'gt' | 'lt' | 'exists';
export const FILTER_OPS: readonly FilterOp[] = ['eq', 'neq', 'in', 'gt', 'lt', 'exists'];

export interface PropertyFilter {
  /** An attribute name, e.g. ai.tool.success (a key of the event's attributes). */
  attribute: string;
  op: FilterOp;
  value?: Scalar | Scalar[];
}

export interface FunnelStepSpec {
  /** Any of these event names. */
  events: string[];
  where: PropertyFilter[];
  optional: boolean;
  /** How the answer names the step: the label, else the names joined by " | ". */
  label: string;
}

export interface FunnelExclusion {
  events: string[];
  where: PropertyFilter[];
  /** Step indexes, 0-based, a < b, both required. */
  a: number;
  b: number;
}

export type FunnelUnit = 'session_id' | 'user_id' | `attributes.${string}`;
export type BreakdownProperty = 'site_id' | 'source' | `attributes.${string}`;
export const CONVERSION_GRAINS = { '1h': 3_600_000_000, '1d': 86_400_000_000 } as const;

export interface FunnelQuery {
  tenantId: string;
  /** Chain starts in [from, to], µs since the epoch. */
  from: number;
  to: number;
  windowSeconds: number;
  unit: FunnelUnit;
  order: 'ordered' | 'strict';
  steps: FunnelStepSpec[];
  exclusions: FunnelExclusion[];
  breakdown: BreakdownProperty[];
  breakdownLimit: number;
  /** Histogram bin edges of the time to convert, ms, ascending; null: the default ladder. */
  binsMs: number[] | null;
  grain: keyof typeof CONVERSION_GRAINS | null;
}

export const MAX_STEPS = 10;
export const MAX_NAMES_PER_STEP = 10;
export const MAX_FILTERS = 10;
export const MAX_EXCLUSIONS = 5;
export const MAX_BREAKDOWN = 2;
export const MAX_BREAKDOWN_LIMIT = 50;
export const DEFAULT_BREAKDOWN_LIMIT = 10;
export const MAX_BINS = 50;
export const MAX_IN_VALUES = 100;
export const MAX_WINDOW_SECONDS = 30 * 86400;
export const ATTRIBUTE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$/;

const FIELDS = [
  'tenantId',
  'steps',
  'from',
  'to',
  'window_seconds',
  'unit',
  'order',
  'exclusions',
  'breakdown',
  'breakdown_limit',
  'time_to_convert',
  'conversion_over_time',
];

/**
 * A refused funnel request: a 400 whose detail is the sentence and whose errors[0] points at the
 * field, shaped as the validation pipe's refusals (the message without its full stop).
 */
export function invalidFunnel(pointer: string, keyword: string, message: string): ProblemException {
  return new ProblemException(400, 'invalid-report', 'Invalid report request', message, {
    errors: [{ pointer, keyword, message: message.replace(/\.$/, '') }],
  });
}

const eventName = new RegExp(EVENT_NAME_PATTERN);
const isScalar = (v: unknown): v is Scalar =>
  (typeof v === 'string' && v.length <= 500 && !v.includes('\u0000')) ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v));

function unknownFields(obj: Record<string, unknown>, allowed: string[], at: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length)
    throw invalidFunnel(
      `${at}/${extra[0]}`,
      'additionalProperties',
      `Unknown field(s)${at ? ` in ${at}` : ''}: ${extra.slice(0, 5).join(', ')}.`,
    );
}

function names(value: unknown, at: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length < 1 ||
    list.length > MAX_NAMES_PER_STEP ||
    list.some((n) => typeof n !== 'string' || !eventName.test(n))
  )
    throw invalidFunnel(
      at,
      'type',
      `${at} must be an event name or a list of 1 to ${MAX_NAMES_PER_STEP} event names (any of them), e.g. "commerce.view".`,
    );
  return [...new Set(list as string[])];
}

function filters(value: unknown, at: string): PropertyFilter[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_FILTERS)
    throw invalidFunnel(at, 'type', `${at} must be a list of at most ${MAX_FILTERS} property filters.`);
  return value.map((f, i) => {
    const p = `${at}/${i}`;
    if (!isJsonObject(f))
      throw invalidFunnel(
        p,
        'type',
        `${p} must be {attribute, op, value}, e.g. {"attribute": "ai.tool.success", "op": "eq", "value": true}.`,
      );
    unknownFields(f, ['attribute', 'op', 'value'], p);
    if (typeof f.attribute !== 'string' || !ATTRIBUTE_NAME.test(f.attribute))
      throw invalidFunnel(
        `${p}/attribute`,
        'pattern',
        `${p}/attribute must be an attribute name, e.g. ai.tool.success.`,
      );
    if (!(FILTER_OPS as readonly unknown[]).includes(f.op))
      throw invalidFunnel(`${p}/op`, 'enum', `${p}/op must be one of ${FILTER_OPS.join(', ')}.`);
    const op = f.op as FilterOp;
    const v = f.value;
    if (op === 'exists') {
      if (v !== undefined) throw invalidFunnel(`${p}/value`, 'not', `${p}/value must be left out for op exists.`);
      return { attribute: f.attribute, op };
    }
    if (op === 'in') {
      if (!Array.isArray(v) || v.length < 1 || v.length > MAX_IN_VALUES || !v.every(isScalar))
        throw invalidFunnel(
          `${p}/value`,
          'type',
          `${p}/value must be a list of 1 to ${MAX_IN_VALUES} strings, numbers or booleans for op in.`,
        );
      return { attribute: f.attribute, op, value: v };
    }
    if (op === 'gt' || op === 'lt') {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw invalidFunnel(`${p}/value`, 'type', `${p}/value must be a number for op ${op}.`);
      return { attribute: f.attribute, op, value: v };
    }
    if (!isScalar(v))
      throw invalidFunnel(
        `${p}/value`,
        'type',
        `${p}/value must be a string (at most 500 characters), a number or a boolean for op ${op}.`,
      );
    return { attribute: f.attribute, op, value: v };
  });
}

function property(value: unknown, at: string): BreakdownProperty {
  if (value === 'site_id' || value === 'source') return value;
  if (typeof value === 'string' && value.startsWith('attributes.') && ATTRIBUTE_NAME.test(value.slice(11)))
    return value as BreakdownProperty;
  throw invalidFunnel(
    at,
    'enum',
    `${at} must be site_id, source or attributes.<name> (e.g. attributes.gen_ai.tool.name); got ${JSON.stringify(String(value).slice(0, 80))}.`,
  );
}

function integer(value: unknown, at: string, min: number, max: number, fallback: number, what = ''): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalidFunnel(at, 'range', `${at.slice(1)} must be an integer from ${min} to ${max}${what}.`);
  return value;
}

/** The funnel request, checked; the tenant is resolved and the range bounded by the caller. */
export function parseFunnelRequest(body: unknown): FunnelQuery {
  if (!isJsonObject(body))
    throw invalidFunnel('', 'type', 'The body must be a JSON object {tenantId, steps, from, to}.');
  unknownFields(body, FIELDS, '');
  if (!isUuid(body.tenantId)) throw invalidFunnel('/tenantId', 'format', 'tenantId must be the tenant UUID.');

  const rawSteps = body.steps;
  if (!Array.isArray(rawSteps) || rawSteps.length < 2 || rawSteps.length > MAX_STEPS)
    throw invalidFunnel(
      '/steps',
      'type',
      `steps must be 2 to ${MAX_STEPS} event names or step objects {event, where?, optional?, label?}, e.g. ["commerce.view", "commerce.add_to_cart", "commerce.checkout"].`,
    );
  const steps: FunnelStepSpec[] = rawSteps.map((s, i) => {
    const at = `/steps/${i}`;
    if (typeof s === 'string') return { events: names(s, at), where: [], optional: false, label: s };
    if (!isJsonObject(s))
      throw invalidFunnel(
        at,
        'type',
        `${at} must be an event name or a step object {event, where?, optional?, label?}.`,
      );
    unknownFields(s, ['event', 'where', 'optional', 'label'], at);
    const events = names(s.event, `${at}/event`);
    if (s.optional !== undefined && typeof s.optional !== 'boolean')
      throw invalidFunnel(`${at}/optional`, 'type', `${at}/optional must be true or false.`);
    if (s.label !== undefined && (typeof s.label !== 'string' || s.label.length < 1 || s.label.length > 100))
      throw invalidFunnel(`${at}/label`, 'type', `${at}/label must be a string of 1 to 100 characters.`);
    return {
      events,
      where: filters(s.where, `${at}/where`),
      optional: s.optional === true,
      label: s.label ?? events.join(' | '),
    };
  });
  if (steps.every((s) => s.optional))
    throw invalidFunnel(
      '/steps',
      'optional',
      'steps cannot all be optional: a funnel needs required steps, the first one first.',
    );
  if (steps[0].optional)
    throw invalidFunnel('/steps/0/optional', 'optional', 'The first step cannot be optional: chains start at it.');
  if (steps.filter((s) => !s.optional).length < 2)
    throw invalidFunnel('/steps', 'optional', 'A funnel needs at least 2 required steps; make fewer steps optional.');

  const from = parseReportMicros(body.from, 'from');
  const to = parseReportMicros(body.to, 'to');
  if (!(to > from)) throw invalidFunnel('/to', 'range', 'to must be after from.');

  const windowSeconds = integer(body.window_seconds, '/window_seconds', 1, MAX_WINDOW_SECONDS, 3600, ' (30 days)');

  const unit = body.unit ?? 'session_id';
  if (
    unit !== 'session_id' &&
    unit !== 'user_id' &&
    !(typeof unit === 'string' && unit.startsWith('attributes.') && ATTRIBUTE_NAME.test(unit.slice(11)))
  )
    throw invalidFunnel(
      '/unit',
      'enum',
      'unit must be session_id, user_id or attributes.<name> (e.g. attributes.gen_ai.conversation.id).',
    );
  const order = body.order ?? 'ordered';
  if (order !== 'ordered' && order !== 'strict')
    throw invalidFunnel('/order', 'enum', 'order must be ordered or strict.');

  const exclusions = parseExclusions(body.exclusions, steps);

  const rawBreakdown = body.breakdown ?? [];
  if (!Array.isArray(rawBreakdown) || rawBreakdown.length > MAX_BREAKDOWN)
    throw invalidFunnel('/breakdown', 'type', `breakdown must be a list of at most ${MAX_BREAKDOWN} properties.`);
  const breakdown = rawBreakdown.map((p, i) => property(p, `/breakdown/${i}`));
  if (new Set(breakdown).size < breakdown.length)
    throw invalidFunnel('/breakdown/1', 'uniqueItems', 'breakdown names the same property twice.');
  const breakdownLimit = integer(
    body.breakdown_limit,
    '/breakdown_limit',
    1,
    MAX_BREAKDOWN_LIMIT,
    DEFAULT_BREAKDOWN_LIMIT,
  );
  if (body.breakdown_limit !== undefined && !breakdown.length)
    throw invalidFunnel('/breakdown_limit', 'dependentRequired', 'breakdown_limit needs a breakdown.');

  let binsMs: number[] | null = null;
  if (body.time_to_convert !== undefined) {
    const t = body.time_to_convert;
    if (!isJsonObject(t))
      throw invalidFunnel('/time_to_convert', 'type', 'time_to_convert must be an object {bins_ms?}.');
    unknownFields(t, ['bins_ms'], '/time_to_convert');
    if (t.bins_ms !== undefined) {
      const b = t.bins_ms;
      if (
        !Array.isArray(b) ||
        b.length < 1 ||
        b.length > MAX_BINS ||
        !b.every(
          (x, i) => typeof x === 'number' && Number.isFinite(x) && x > 0 && (i === 0 || x > (b[i - 1] as number)),
        )
      )
        throw invalidFunnel(
          '/time_to_convert/bins_ms',
          'type',
          `time_to_convert.bins_ms must be 1 to ${MAX_BINS} increasing bin edges in ms, each above 0, e.g. [1000, 60000, 600000].`,
        );
      binsMs = b as number[];
    }
  }

  let grain: FunnelQuery['grain'] = null;
  if (body.conversion_over_time !== undefined) {
    const c = body.conversion_over_time;
    if (!isJsonObject(c))
      throw invalidFunnel('/conversion_over_time', 'type', 'conversion_over_time must be an object {grain}.');
    unknownFields(c, ['grain'], '/conversion_over_time');
    if (c.grain !== '1h' && c.grain !== '1d')
      throw invalidFunnel('/conversion_over_time/grain', 'enum', 'conversion_over_time.grain must be 1h or 1d.');
    grain = c.grain;
  }

  return {
    tenantId: body.tenantId.toLowerCase(),
    from,
    to,
    windowSeconds,
    unit: unit as FunnelUnit,
    order,
    steps,
    exclusions,
    breakdown,
    breakdownLimit,
    binsMs,
    grain,
  };
}

function parseExclusions(value: unknown, steps: FunnelStepSpec[]): FunnelExclusion[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_EXCLUSIONS)
    throw invalidFunnel('/exclusions', 'type', `exclusions must be a list of at most ${MAX_EXCLUSIONS} exclusions.`);
  return value.map((x, i) => {
    const at = `/exclusions/${i}`;
    if (!isJsonObject(x))
      throw invalidFunnel(
        at,
        'type',
        `${at} must be {event, where?, between?}, e.g. {"event": "commerce.remove_from_cart", "between": [2, 3]}.`,
      );
    unknownFields(x, ['event', 'where', 'between'], at);
    const events = names(x.event, `${at}/event`);
    const between = x.between ?? [1, steps.length - [...steps].reverse().findIndex((s) => !s.optional)];
    if (
      !Array.isArray(between) ||
      between.length !== 2 ||
      !between.every((n) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= steps.length) ||
      !((between[0] as number) < (between[1] as number))
    )
      throw invalidFunnel(
        `${at}/between`,
        'type',
        `${at}/between must be two step numbers [from, to], 1 to ${steps.length}, from before to (default: the first and the last required step).`,
      );
    const [a, b] = (between as number[]).map((n) => n - 1);
    for (const [k, s] of [
      [0, a],
      [1, b],
    ] as const)
      if (steps[s].optional)
        throw invalidFunnel(
          `${at}/between/${k}`,
          'optional',
          `${at}/between names step ${s + 1}, which is optional; name required steps.`,
        );
    return { events, where: filters(x.where, `${at}/where`), a, b };
  });
}
