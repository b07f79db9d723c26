import { ValidationOptions, registerDecorator } from 'class-validator';
import { parseReportDate } from '../report-bounds';

/** An RFC 3339 date-time with a zone, years 0001 to 9999 (what every report's from and to take). */
export function IsDateTimeWithZone(options: ValidationOptions = {}): PropertyDecorator {
  return (target, property) =>
    registerDecorator({
      name: 'format',
      target: target.constructor,
      propertyName: property as string,
      options: {
        message: ({ property: p, value }) =>
          `${p} must be an RFC 3339 date-time with a zone, years 0001 to 9999, e.g. 2025-01-15T00:00:00Z; got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 40) : (value ?? null))}`,
        ...options,
      },
      validator: { validate: (value: unknown) => parseReportDate(value) !== null },
    });
}
