import { createHash } from 'node:crypto';
import { UUID_PATTERN } from '../../common/validation';
import { EVENT_SOURCES } from '../schema-registry/envelope.schema';
import { logEventId, otlpSiteId, spanEventId } from './otlp-ids';
import {
  AttributeRule,
  CONTENT_ATTRIBUTES,
  CONTENT_MAX_CHARS,
  SPAN_RULES,
  SpanFact,
  SpanRule,
  STT_RULE_ID,
  TOOL_RULE_ID,
  TTS_FIRST_BYTE,
  TURN_RULE_ID,
  ValueSource,
} from './otlp-mapping';
import { Attributes, AttrValue, OtlpExport, OtlpLogRecord, OtlpSpan } from './otlp-request';

/** What an export request maps to: the events, for each the span or record it came from, and how many items mapped to nothing. */
export interface MappedExport {
  events: Record<string, unknown>[];
  /** For each event, the index of its span or log record in the request. */
  origins: number[];
  /** For each span or record, how a message names it. */
  labels: string[];
  items: number;
  skipped: number;
}

export interface MappingContext {
  tenantId: string;
  /** Whether a log record's event name is an event type of the tenant (built-in or its own). */
  isEventType: (name: string) => boolean;
  /** The tenant keeps message content (sanitized). */
  keepContent: boolean;
}

const STATUS_ERROR = 2;

export function mapExport(exp: OtlpExport, ctx: MappingContext): MappedExport {
  return exp.signal === 'traces' ? mapSpans(exp.spans, ctx) : mapLogs(exp.records, ctx);
}

// ------------------------------------------------------------------ spans

/** The spans of one request, related: each span's rule, its parent, and the facts the rules read. */
class SpanForest {
  readonly rules: (SpanRule | undefined)[];
  private readonly byId = new Map<string, number>();
  private readonly children = new Map<number, number[]>();
  private readonly turns = new Map<number, string | undefined>();

  constructor(readonly spans: OtlpSpan[]) {
    this.rules = spans.map(ruleFor);
    spans.forEach((s, i) => this.byId.set(`${s.traceId}/${s.spanId}`, i));
    spans.forEach((s, i) => {
      const p = this.parentOf(i);
      if (p === undefined) return;
      const list = this.children.get(p) ?? [];
      list.push(i);
      this.children.set(p, list);
    });
  }

  parentOf(i: number): number | undefined {
    const s = this.spans[i];
    return s.parentSpanId ? this.byId.get(`${s.traceId}/${s.parentSpanId}`) : undefined;
  }

  /** The span id of the nearest voice turn span at or above span i. */
  turnOf(i: number): string | undefined {
    if (this.turns.has(i)) return this.turns.get(i);
    const seen = new Set<number>();
    let at: number | undefined = i;
    let found: string | undefined;
    while (at !== undefined && !seen.has(at)) {
      seen.add(at);
      if (this.rules[at]?.id === TURN_RULE_ID) {
        found = this.spans[at].spanId;
        break;
      }
      at = this.parentOf(at);
    }
    this.turns.set(i, found);
    return found;
  }

  toolCallsBelow(i: number): number {
    let n = 0;
    const seen = new Set<number>([i]);
    const stack = [...(this.children.get(i) ?? [])];
    while (stack.length) {
      const c = stack.pop()!;
      if (seen.has(c)) continue;
      seen.add(c);
      if (this.rules[c]?.id === TOOL_RULE_ID) n++;
      stack.push(...(this.children.get(c) ?? []));
    }
    return n;
  }

  /** Whether span i is the earliest-starting span of its rule in its turn (a span outside a turn always is). */
  firstInTurn(i: number): boolean {
    const turn = this.turnOf(i);
    if (turn === undefined) return true;
    const rule = this.rules[i];
    return this.spans.every(
      (s, j) =>
        j === i ||
        this.rules[j] !== rule ||
        this.turnOf(j) !== turn ||
        s.startNs > this.spans[i].startNs ||
        (s.startNs === this.spans[i].startNs && j > i),
    );
  }

  /** First audio of TTS span i after the end of the last STT span of its turn that ended before the TTS started. */
  firstAudioAfterUserSpeech(i: number): number | undefined {
    const turn = this.turnOf(i);
    if (turn === undefined) return undefined;
    const tts = this.spans[i];
    let sttEnd: bigint | undefined;
    this.spans.forEach((s, j) => {
      if (this.rules[j]?.id !== STT_RULE_ID || this.turnOf(j) !== turn || s.endNs > tts.startNs) return;
      if (sttEnd === undefined || s.endNs > sttEnd) sttEnd = s.endNs;
    });
    if (sttEnd === undefined) return undefined;
    const firstByte = firstValue(TTS_FIRST_BYTE, tts, this, i);
    const ttfb = typeof firstByte === 'number' ? firstByte : 0;
    return roundMs(Number(tts.startNs - sttEnd) / 1e6 + ttfb);
  }
}

function ruleFor(s: OtlpSpan): SpanRule | undefined {
  const op = s.attributes['gen_ai.operation.name'];
  return SPAN_RULES.find((r) => {
    const m = r.match;
    if (typeof op === 'string' && m.operations?.includes(op)) return true;
    if (m.names?.some((n) => s.name === n || s.name.startsWith(`${n} `))) return true;
    if (m.attribute) {
      const v = s.attributes[m.attribute.key];
      if (typeof v === 'string' && m.attribute.values.includes(v)) return true;
    }
    return false;
  });
}

function mapSpans(spans: OtlpSpan[], ctx: MappingContext): MappedExport {
  const forest = new SpanForest(spans);
  const out: MappedExport = { events: [], origins: [], labels: [], items: spans.length, skipped: 0 };
  spans.forEach((s, i) => {
    out.labels.push(`span "${s.name.slice(0, 80)}" (span id ${s.spanId})`);
    const rule = forest.rules[i];
    let emitted = 0;
    for (const e of rule?.emits ?? []) {
      if (e.firstInTurn && !forest.firstInTurn(i)) continue;
      const attributes = valuesOf(e.attributes, s, forest, i);
      if (e.requires && attributes[e.requires] === undefined) continue;
      if (ctx.keepContent) Object.assign(attributes, contentOf(s.attributes));
      out.events.push({
        event_id: spanEventId(ctx.tenantId, s.traceId, s.spanId, e.event),
        event_name: e.event,
        occurred_at: isoTime(e.at === 'start' ? s.startNs : s.endNs),
        tenant_id: ctx.tenantId,
        ...envelopeOf(ctx.tenantId, s.resource, s.attributes),
        attributes,
      });
      out.origins.push(i);
      emitted++;
    }
    if (!emitted) out.skipped++;
  });
  return out;
}

function valuesOf(rules: AttributeRule[], s: OtlpSpan, forest: SpanForest, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rules) {
    const v = firstValue(r.from, s, forest, i);
    if (v === undefined) continue;
    out[r.to] = r.to === 'gen_ai.response.finish_reasons' && typeof v === 'string' ? [v] : v;
  }
  // error.type only describes a failure.
  if (out['ai.tool.success'] === true) delete out['error.type'];
  return out;
}

function firstValue(sources: ValueSource[], s: OtlpSpan, forest: SpanForest, i: number): AttrValue | undefined {
  for (const src of sources) {
    const v = valueOf(src, s, forest, i);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function valueOf(src: ValueSource, s: OtlpSpan, forest: SpanForest, i: number): AttrValue | undefined {
  if ('attr' in src) return s.attributes[src.attr];
  if ('resource' in src) return s.resource[src.resource];
  if ('value' in src) return src.value;
  if ('seconds' in src) {
    const v = s.attributes[src.seconds];
    return typeof v === 'number' ? roundMs(v * 1000) : undefined;
  }
  if ('json' in src) {
    const raw = s.attributes[src.json];
    let doc: unknown = raw;
    if (typeof raw === 'string') {
      try {
        doc = JSON.parse(raw);
      } catch {
        return undefined;
      }
    }
    const v = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[src.field] : undefined;
    if (typeof v === 'number') return src.scale ? roundMs(v * src.scale) : v;
    return typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
  }
  return fact(src.span, s, forest, i);
}

function fact(name: SpanFact, s: OtlpSpan, forest: SpanForest, i: number): AttrValue | undefined {
  switch (name) {
    case 'duration_ms':
      return roundMs(Number(s.endNs - s.startNs) / 1e6);
    case 'succeeded':
      return s.statusCode !== STATUS_ERROR && s.attributes['lk.function_tool.is_error'] !== true;
    case 'error_type':
      return s.statusCode === STATUS_ERROR || s.attributes['lk.function_tool.is_error'] === true ? '_OTHER' : undefined;
    case 'span_id':
      return s.spanId;
    case 'name_suffix': {
      const space = s.name.indexOf(' ');
      return space === -1 ? undefined : s.name.slice(space + 1).trim();
    }
    case 'tool_calls_below': {
      const n = forest.toolCallsBelow(i);
      return n > 0 ? n : undefined;
    }
    case 'turn_id':
      return forest.turnOf(i);
    case 'first_audio_after_user_speech_ms':
      return forest.firstAudioAfterUserSpeech(i);
  }
}

// ------------------------------------------------------------------ log records

const NAME_ATTRIBUTES = ['event.name', 'EventName'];
const ENVELOPE_ATTRIBUTES = ['session.id', 'user.id', 'enduser.id'];

function mapLogs(records: OtlpLogRecord[], ctx: MappingContext): MappedExport {
  const out: MappedExport = { events: [], origins: [], labels: [], items: records.length, skipped: 0 };
  records.forEach((r, i) => {
    const named = r.eventName || NAME_ATTRIBUTES.map((k) => r.attributes[k]).find((v) => typeof v === 'string') || '';
    const name = typeof named === 'string' ? named : '';
    out.labels.push(`log record ${i}${name ? ` "${name.slice(0, 80)}"` : ''}`);
    if (!name || !ctx.isEventType(name)) {
      out.skipped++;
      return;
    }
    const attributes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.attributes)) {
      if (NAME_ATTRIBUTES.includes(k) || ENVELOPE_ATTRIBUTES.includes(k) || isContent(k)) continue;
      attributes[k] = v;
    }
    if (ctx.keepContent) {
      Object.assign(attributes, contentOf(r.attributes));
      if (r.body !== null) attributes['log.body'] = contentText(r.body);
    }
    const digest = createHash('sha256')
      // The observed time only when the record has no time of its own: the same record, observed again, is the same event.
      .update(JSON.stringify([String(r.timeNs || r.observedNs), name, r.severityNumber, r.attributes, r.body]))
      .digest('hex');
    out.events.push({
      event_id: logEventId(ctx.tenantId, r.traceId, r.spanId, digest),
      event_name: name,
      occurred_at: isoTime(r.timeNs || r.observedNs),
      tenant_id: ctx.tenantId,
      ...envelopeOf(ctx.tenantId, r.resource, r.attributes),
      attributes,
    });
    out.origins.push(i);
  });
  return out;
}

// ------------------------------------------------------------------ shared

function envelopeOf(tenantId: string, resource: Attributes, own: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  const source = resource['analytics.source'];
  out.source = typeof source === 'string' && (EVENT_SOURCES as readonly string[]).includes(source) ? source : 'server';
  const site = resource['analytics.site_id'];
  const service = resource['service.name'];
  if (typeof site === 'string' && UUID_PATTERN.test(site)) out.site_id = site.toLowerCase();
  else if (typeof service === 'string' && service) {
    const env = resource['deployment.environment.name'] ?? resource['deployment.environment'];
    out.site_id = otlpSiteId(tenantId, service, typeof env === 'string' ? env : '');
  }
  const session = own['session.id'] ?? resource['session.id'];
  if (typeof session === 'string' && UUID_PATTERN.test(session)) out.session_id = session.toLowerCase();
  const user = own['user.id'] ?? own['enduser.id'] ?? resource['user.id'] ?? resource['enduser.id'];
  if (typeof user === 'string' && user) out.user_id = user;
  return out;
}

export function isContent(key: string): boolean {
  return CONTENT_ATTRIBUTES.some((c) => (c.endsWith('.') ? key.startsWith(c) : key === c));
}

function contentOf(attrs: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (isContent(k) && v !== null) out[k] = contentText(v);
  return out;
}

function contentText(v: AttrValue): string {
  return (typeof v === 'string' ? v : JSON.stringify(v)).slice(0, CONTENT_MAX_CHARS);
}

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Nanoseconds since the epoch as RFC 3339 (ms precision); 0 or out of range → the epoch, which validation refuses as too old. */
function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}
