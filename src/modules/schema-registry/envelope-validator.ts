import { Injectable } from '@nestjs/common';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { fullFormats } from 'ajv-formats/dist/formats';
import { UUID_PATTERN } from '../../common/validation';
import { EventError } from './event-error';
import { ENVELOPE_SCHEMA } from './envelope.schema';

const FORMAT_NAMES: Record<string, string> = {
  uuid: 'a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)',
  'date-time': 'an RFC 3339 date-time with a time zone (e.g. 2025-01-15T10:30:00.123Z)',
};

/** The envelope's formats are stricter than JSON Schema's: what Postgres's columns take. */
const ENVELOPE_FORMAT_NAMES: Record<string, string> = {
  uuid: 'a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000), without a urn:uuid: prefix or braces',
  'date-time': 'an RFC 3339 date-time with a time zone (e.g. 2025-01-15T10:30:00.123Z), at most 15:59 hours from UTC',
};

const { validate: rfc3339DateTime } = fullFormats['date-time'] as { validate: (s: string) => boolean };
/** The offset that ends a date-time, its hours captured. */
const OFFSET = /[+-](\d\d)(?::?\d\d)?$/;

/**
 * The envelope's formats are those of the Postgres columns its fields are stored in: `uuid` is the
 * canonical text of the uuid type (ajv-formats' uuid also takes a urn:uuid: prefix, which Postgres
 * refuses, and would fail the whole job storing it), and `date-time` is RFC 3339 with an offset
 * that timestamptz takes (Postgres refuses one of 16 hours or more, RFC 3339 allows up to 23:59).
 */
export const STORABLE_FORMATS = {
  uuid: UUID_PATTERN,
  'date-time': (s: string): boolean => rfc3339DateTime(s) && Number(OFFSET.exec(s)?.[1] ?? 0) <= 15,
};

/** Turns one Ajv error into a pointer and a sentence naming the field. */
export function describeAjvError(e: ErrorObject, prefix = '', schema?: string): EventError {
  const described = describe(e, prefix, schema === 'envelope' ? ENVELOPE_FORMAT_NAMES : FORMAT_NAMES);
  return schema ? { ...described, schema } : described;
}

function describe(e: ErrorObject, prefix: string, formats: Record<string, string>): EventError {
  const at = prefix + (e.instancePath || '');
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const pointer = `${at}/${String(p.missingProperty)}`;
      return { pointer, keyword: 'required', message: `${pointer} is required` };
    }
    case 'additionalProperties': {
      const pointer = `${at}/${String(p.additionalProperty)}`;
      return { pointer, keyword: e.keyword, message: `${pointer} is not a known field` };
    }
    case 'format':
      return {
        pointer: at,
        keyword: e.keyword,
        message: `${at} must be ${formats[String(p.format)] ?? `in ${String(p.format)} format`}`,
      };
    case 'enum':
      return {
        pointer: at,
        keyword: e.keyword,
        message: `${at} must be one of ${(p.allowedValues as unknown[]).join(', ')}`,
      };
    case 'type':
      return { pointer: at, keyword: e.keyword, message: `${at || 'the event'} must be ${article(String(p.type))}` };
    case 'pattern':
      return {
        pointer: at,
        keyword: e.keyword,
        message:
          at === '/event_name'
            ? `${at} must be dotted lower-case, a namespace and a name (e.g. voice.turn_started)`
            : `${at} must match ${String(p.pattern)}`,
      };
    default:
      return { pointer: at, keyword: e.keyword, message: `${at || 'the event'} ${e.message ?? 'is invalid'}` };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Validates the envelope shared by all events; compiled once per process. */
@Injectable()
export class EnvelopeValidator {
  private readonly validateFn: ValidateFunction;

  constructor() {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: false });
    for (const [name, format] of Object.entries(STORABLE_FORMATS)) ajv.addFormat(name, format);
    this.validateFn = ajv.compile(ENVELOPE_SCHEMA);
  }

  validate(event: unknown): EventError[] {
    if (this.validateFn(event)) return [];
    return (this.validateFn.errors ?? []).map((e) => describeAjvError(e, '', 'envelope'));
  }
}
