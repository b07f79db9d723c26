import { ArgumentMetadata, Injectable, PipeTransform, Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';
import { ProblemException } from './problem';
import { isJsonObject } from './validation';

const INVALID_AS = Symbol('invalidAs');
const PARSED_BY = Symbol('parsedBy');
const PRIMITIVES = new Set<unknown>([String, Boolean, Number, Array, Object]);

interface InvalidAs {
  slug: string;
  title: string;
  /** The shape the body must have, named in the detail when it is not an object at all. */
  shape: string;
}

/** The problem type and title of a request DTO that fails its validation (default: invalid-request). */
export function InvalidAs(slug: string, title: string, shape: string): ClassDecorator {
  return (target) => Reflect.defineMetadata(INVALID_AS, { slug, title, shape } satisfies InvalidAs, target);
}

/**
 * Rules past what class-validator's decorators say, for a DTO whose fields depend on each other
 * (the funnel's steps, filters and breakdowns): `parse` sees the body once the decorators passed and
 * throws a 400 ProblemException with the pointer of what makes no sense. It must not change the body.
 */
export function ParsedBy(parse: (body: unknown) => unknown): ClassDecorator {
  return (target) => Reflect.defineMetadata(PARSED_BY, parse, target);
}

/** One failed rule: where (a JSON pointer into the body or the query), which rule, and the sentence. */
export interface FieldError {
  pointer: string;
  keyword: string;
  message: string;
}

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** Flattens class-validator's tree into one error per failed rule, each with its JSON pointer. */
export function fieldErrors(errors: ValidationError[], base = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const pointer = `${base}/${escapePointer(e.property)}`;
    for (const [keyword, message] of Object.entries(e.constraints ?? {})) {
      out.push(
        keyword === 'whitelistValidation'
          ? { pointer, keyword: 'additionalProperties', message: `Unknown field ${pointer}` }
          : { pointer, keyword, message },
      );
    }
    if (e.children?.length) out.push(...fieldErrors(e.children, pointer));
  }
  return out;
}

/**
 * Validates every @Body() and @Query() whose type is a DTO class (class-validator rules, unknown
 * fields refused) and hands the handler the DTO instance. A failure is a 400 problem+json whose
 * `errors` name each failed rule with a JSON pointer, as an invalid event's are. Parameters typed
 * `unknown` (the event envelope, validated by its JSON Schema) pass through untouched.
 */
@Injectable()
export class DtoValidationPipe implements PipeTransform {
  async transform(value: unknown, meta: ArgumentMetadata): Promise<unknown> {
    const type = meta.metatype as Type<object> | undefined;
    if ((meta.type !== 'body' && meta.type !== 'query') || !type || PRIMITIVES.has(type)) return value;
    const as: InvalidAs = (Reflect.getMetadata(INVALID_AS, type) as InvalidAs | undefined) ?? {
      slug: 'invalid-request',
      title: 'Invalid request',
      shape: 'object',
    };
    // An empty body is read as {} by the body reader; anything else that is not an object is refused here.
    if (!isJsonObject(value)) {
      const message = `The ${meta.type} must be a JSON object ${as.shape}.`;
      throw new ProblemException(400, as.slug, as.title, message, {
        errors: [{ pointer: '', keyword: 'type', message }],
      });
    }
    const dto = plainToInstance(type, value);
    const errors = fieldErrors(
      await validate(dto, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }),
    );
    if (errors.length) {
      throw new ProblemException(400, as.slug, as.title, errors.map((e) => sentence(e.message)).join(' '), {
        errors,
      });
    }
    const parse = Reflect.getMetadata(PARSED_BY, type) as ((body: unknown) => unknown) | undefined;
    parse?.(value);
    return dto;
  }
}

const sentence = (message: string) => (/[.!?]$/.test(message) ? message : `${message}.`);
