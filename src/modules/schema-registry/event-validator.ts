import { Injectable } from '@nestjs/common';
import { ValidateFunction } from 'ajv';
import { createAjv } from './ajv-factory';
import { BUILTIN_EVENTS } from './builtin-events';
import { EnvelopeValidator, describeAjvError } from './envelope-validator';
import { EventError } from './event-error';
import { parseIgluUri } from './schema-ver';
import { TenantSchemaSet } from './tenant-schema-set';

/**
 * The content checks that follow the envelope: the event type's attributes (built-in, or the
 * tenant's newest version of a custom type), then any self-describing payload and context entities
 * against exactly the Iglu version they name. Built-in validators are compiled once per process.
 */
@Injectable()
export class EventValidator {
  private readonly builtins = new Map<string, ValidateFunction>();

  constructor(private readonly envelopeValidator: EnvelopeValidator) {
    const ajv = createAjv();
    for (const t of BUILTIN_EVENTS) this.builtins.set(t.name, ajv.compile(t.attributes));
  }

  envelope(event: unknown): EventError[] {
    return this.envelopeValidator.validate(event);
  }

  /** Errors of an event whose envelope is valid; these are the ones a tenant may quarantine. */
  content(event: Record<string, unknown>, schemas: TenantSchemaSet): EventError[] {
    const errors: EventError[] = [];
    const name = event.event_name as string;
    const builtin = this.builtins.get(name);
    if (builtin) {
      run(builtin, event.attributes, '/attributes', `builtin:${name}`, errors);
    } else {
      const custom = schemas.latestEvent(name);
      if (custom) run(custom.validate, event.attributes, '/attributes', custom.ref, errors);
      else
        errors.push({
          pointer: '/event_name',
          keyword: 'unknownEvent',
          schema: 'registry',
          message: `/event_name "${name}" is neither a built-in event type nor a schema this tenant has published`,
        });
    }
    const payload = event.payload as { schema: string; data: unknown } | undefined;
    if (payload) this.selfDescribing(payload, '/payload', schemas, errors);
    const entities = (event.context as { entities?: { schema: string; data: unknown }[] } | null | undefined)?.entities;
    entities?.forEach((entity, i) => this.selfDescribing(entity, `/context/entities/${i}`, schemas, errors));
    return errors;
  }

  private selfDescribing(
    sd: { schema: string; data: unknown },
    at: string,
    schemas: TenantSchemaSet,
    errors: EventError[],
  ): void {
    const key = parseIgluUri(sd.schema);
    if (!key) {
      errors.push({
        pointer: `${at}/schema`,
        keyword: 'igluUri',
        schema: 'registry',
        message: `${at}/schema must be an Iglu URI iglu:vendor/name/jsonschema/MODEL-REVISION-ADDITION (got ${JSON.stringify(sd.schema.slice(0, 100))})`,
      });
      return;
    }
    const resolved = schemas.iglu(key.name, key.version);
    if (!resolved) {
      errors.push({
        pointer: `${at}/schema`,
        keyword: 'unknownSchema',
        schema: sd.schema,
        message: `${at}/schema ${sd.schema} is not a schema this tenant has published`,
      });
      return;
    }
    run(resolved.validate, sd.data, `${at}/data`, resolved.ref, errors);
  }
}

function run(validate: ValidateFunction, value: unknown, prefix: string, schema: string, errors: EventError[]): void {
  if (validate(value)) return;
  // An if/then failure arrives twice: as the branch's own error and as an "if" wrapper that says nothing more.
  for (const e of validate.errors ?? []) if (e.keyword !== 'if') errors.push(describeAjvError(e, prefix, schema));
}
