import { decodeProtobufRequest, OtlpSignal } from './otlp-proto';

/** An OTLP attribute value, as plain JSON: AnyValue unwrapped (bytes as base64, 64-bit integers as numbers). */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface OtlpSpan {
  resource: Attributes;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  /** 0 unset, 1 ok, 2 error (Status.StatusCode). */
  statusCode: number;
  events: { name: string; timeNs: bigint; attributes: Attributes }[];
}

export interface OtlpLogRecord {
  resource: Attributes;
  traceId: string;
  spanId: string;
  timeNs: bigint;
  observedNs: bigint;
  severityNumber: number;
  eventName: string;
  body: AttrValue;
  attributes: Attributes;
}

/** A decoded export request: its spans or its log records, each with its resource's attributes. */
export type OtlpExport =
  | { signal: 'traces'; encoding: OtlpEncoding; spans: OtlpSpan[]; items: number }
  | { signal: 'logs'; encoding: OtlpEncoding; records: OtlpLogRecord[]; items: number };

export type OtlpEncoding = 'protobuf' | 'json';

/** A body that is not an export request of its signal: answered 400, with where it went wrong. */
export class MalformedOtlp extends Error {}

/** Attributes nested deeper than this are cut (a kvlist of kvlists...): no recursion bomb from a client. */
const MAX_DEPTH = 8;

export function readExport(signal: OtlpSignal, encoding: OtlpEncoding, bytes: Buffer): OtlpExport {
  let doc: unknown;
  if (encoding === 'protobuf') {
    try {
      doc = decodeProtobufRequest(signal, bytes);
    } catch (err) {
      throw new MalformedOtlp(
        `The body is not a protobuf Export${signal === 'traces' ? 'Trace' : 'Logs'}ServiceRequest: ${String((err as Error).message).slice(0, 200)}`,
      );
    }
  } else {
    try {
      doc = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new MalformedOtlp(`The body is not valid JSON: ${String((err as Error).message).slice(0, 200)}`);
    }
  }
  const ids = encoding === 'protobuf' ? 'base64' : 'hex';
  if (!isObject(doc)) throw new MalformedOtlp('The body must be a JSON object (an OTLP export request).');
  if (signal === 'traces') {
    const spans: OtlpSpan[] = [];
    list(doc, 'resourceSpans', '').forEach((rs, i) => {
      const at = `/resourceSpans/${i}`;
      const resource = attributes(object(rs, 'resource', at), `${at}/resource`);
      list(rs, 'scopeSpans', at).forEach((ss, j) => {
        list(ss, 'spans', `${at}/scopeSpans/${j}`).forEach((s, k) =>
          spans.push(span(s, resource, `${at}/scopeSpans/${j}/spans/${k}`, ids)),
        );
      });
    });
    return { signal, encoding, spans, items: spans.length };
  }
  const records: OtlpLogRecord[] = [];
  list(doc, 'resourceLogs', '').forEach((rl, i) => {
    const at = `/resourceLogs/${i}`;
    const resource = attributes(object(rl, 'resource', at), `${at}/resource`);
    list(rl, 'scopeLogs', at).forEach((sl, j) => {
      list(sl, 'logRecords', `${at}/scopeLogs/${j}`).forEach((r, k) =>
        records.push(logRecord(r, resource, `${at}/scopeLogs/${j}/logRecords/${k}`, ids)),
      );
    });
  });
  return { signal, encoding, records, items: records.length };
}

type Doc = Record<string, unknown>;
type IdEncoding = 'hex' | 'base64';

function span(s: Doc, resource: Attributes, at: string, ids: IdEncoding): OtlpSpan {
  const status = object(s, 'status', at);
  return {
    resource,
    traceId: id(s.traceId, 16, `${at}/traceId`, ids),
    spanId: id(s.spanId, 8, `${at}/spanId`, ids),
    parentSpanId:
      s.parentSpanId === undefined || s.parentSpanId === '' ? '' : id(s.parentSpanId, 8, `${at}/parentSpanId`, ids),
    name: str(s.name, `${at}/name`),
    kind: int(s.kind, `${at}/kind`),
    startNs: nanos(s.startTimeUnixNano, `${at}/startTimeUnixNano`),
    endNs: nanos(s.endTimeUnixNano, `${at}/endTimeUnixNano`),
    attributes: attributes(s, at),
    statusCode: int(status.code, `${at}/status/code`),
    events: list(s, 'events', at).map((e, i) => ({
      name: str(e.name, `${at}/events/${i}/name`),
      timeNs: nanos(e.timeUnixNano, `${at}/events/${i}/timeUnixNano`),
      attributes: attributes(e, `${at}/events/${i}`),
    })),
  };
}

function logRecord(r: Doc, resource: Attributes, at: string, ids: IdEncoding): OtlpLogRecord {
  return {
    resource,
    traceId: r.traceId === undefined || r.traceId === '' ? '' : id(r.traceId, 16, `${at}/traceId`, ids),
    spanId: r.spanId === undefined || r.spanId === '' ? '' : id(r.spanId, 8, `${at}/spanId`, ids),
    timeNs: nanos(r.timeUnixNano, `${at}/timeUnixNano`),
    observedNs: nanos(r.observedTimeUnixNano, `${at}/observedTimeUnixNano`),
    severityNumber: int(r.severityNumber, `${at}/severityNumber`),
    eventName: str(r.eventName, `${at}/eventName`),
    body: r.body === undefined ? null : anyValue(r.body, `${at}/body`, 0),
    attributes: attributes(r, at),
  };
}

function attributes(holder: Doc, at: string): Attributes {
  const out: Attributes = {};
  list(holder, 'attributes', at).forEach((kv, i) => {
    const key = str(kv.key, `${at}/attributes/${i}/key`);
    out[key] = kv.value === undefined ? null : anyValue(kv.value, `${at}/attributes/${i}/value`, 0);
  });
  return out;
}

function anyValue(v: unknown, at: string, depth: number): AttrValue {
  if (!isObject(v)) throw new MalformedOtlp(`${at} must be an AnyValue object.`);
  if (v.stringValue !== undefined) return str(v.stringValue, `${at}/stringValue`);
  if (v.boolValue !== undefined) {
    if (typeof v.boolValue !== 'boolean') throw new MalformedOtlp(`${at}/boolValue must be a boolean.`);
    return v.boolValue;
  }
  if (v.intValue !== undefined) return int(v.intValue, `${at}/intValue`);
  if (v.doubleValue !== undefined) {
    const d = typeof v.doubleValue === 'string' ? Number(v.doubleValue) : v.doubleValue;
    if (typeof d !== 'number') throw new MalformedOtlp(`${at}/doubleValue must be a number.`);
    return Number.isFinite(d) ? d : null;
  }
  if (v.bytesValue !== undefined) return str(v.bytesValue, `${at}/bytesValue`);
  if (depth >= MAX_DEPTH) return null;
  if (v.arrayValue !== undefined) {
    return list(object(v, 'arrayValue', at), 'values', `${at}/arrayValue`).map((x, i) =>
      anyValue(x, `${at}/arrayValue/values/${i}`, depth + 1),
    );
  }
  if (v.kvlistValue !== undefined) {
    const out: Record<string, AttrValue> = {};
    list(object(v, 'kvlistValue', at), 'values', `${at}/kvlistValue`).forEach((kv, i) => {
      out[str(kv.key, `${at}/kvlistValue/values/${i}/key`)] =
        kv.value === undefined ? null : anyValue(kv.value, `${at}/kvlistValue/values/${i}/value`, depth + 1);
    });
    return out;
  }
  return null;
}

function isObject(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(holder: Doc, key: string, at: string): Doc {
  const v = holder[key];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new MalformedOtlp(`${at}/${key} must be an object.`);
  return v;
}

function list(holder: Doc, key: string, at: string): Doc[] {
  const v = holder[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MalformedOtlp(`${at}/${key} must be an array.`);
  return v.map((x, i) => {
    if (!isObject(x)) throw new MalformedOtlp(`${at}/${key}/${i} must be an object.`);
    return x;
  });
}

function str(v: unknown, at: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new MalformedOtlp(`${at} must be a string.`);
  return v;
}

function int(v: unknown, at: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^-?\d{1,20}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || !Number.isInteger(n))
    throw new MalformedOtlp(`${at} must be an integer.`);
  return n;
}

function nanos(v: unknown, at: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
  throw new MalformedOtlp(`${at} must be a non-negative integer of nanoseconds since the epoch.`);
}

const HEX = /^[0-9a-fA-F]*$/;

/** A trace or span id as lower-case hex: OTLP/JSON sends hex, protobuf bytes (base64 here). */
function id(v: unknown, bytes: number, at: string, encoding: IdEncoding): string {
  if (typeof v !== 'string') throw new MalformedOtlp(`${at} must be ${bytes} bytes (${bytes * 2} hex digits).`);
  const hex = encoding === 'hex' && HEX.test(v) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
  if (hex.length !== bytes * 2) throw new MalformedOtlp(`${at} must be ${bytes} bytes (${bytes * 2} hex digits).`);
  return hex;
}
