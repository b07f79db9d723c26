import { ValidationOptions, registerDecorator } from 'class-validator';
import { isUuid } from '../validation';

const UUID_RULE =
  'a UUID in canonical form, 8-4-4-4-12 hexadecimal digits joined by hyphens (e.g. 123e4567-e89b-12d3-a456-426614174000)';

/** A UUID in its canonical textual form, any case: the form Postgres's uuid type reads and prints. */
export function IsCanonicalUuid(options: ValidationOptions = {}): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'format',
      target: target.constructor,
      propertyName: property as string,
      options: { message: ({ property: p }) => `/${p} must be ${UUID_RULE}`, ...options },
      validator: { validate: (value: unknown) => isUuid(value) },
    });
}
