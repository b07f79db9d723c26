import Ajv from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types';
import addFormats from 'ajv-formats';
import RE2 from 'ajv/dist/runtime/re2';

/**
 * The regular-expression engine of every validator the registry compiles, tenant and built-in
 * alike: RE2 (the `re2` binding, through Ajv's own runtime module), which matches in time linear in
 * the input, so no `pattern`, `patternProperties` key or `propertyNames` pattern can hold the event
 * loop whatever the string. Ajv calls it as `regExp(pattern, "u")` (`unicodeRegExp` is on by
 * default) and only uses `.test`. RE2 cannot compile what it cannot match in linear time
 * (lookarounds, backreferences, repetitions above 1000): a schema using them does not compile, and
 * `schema-safety.ts` refuses it at publish time with the reason.
 */
export const LINEAR_REGEXP = RE2 as unknown as RegExpEngine; // the module's typing is the namespace, not the callable class

/**
 * One configuration for every validator the registry compiles: all errors, standard formats, RE2.
 * Strict about the schema itself (an unknown keyword, a keyword that would be ignored, an unknown
 * format throw); the strict-mode rules that only concern style (strictTypes: `required` without
 * `type: "object"`; strictTuples: a tuple `items` without `minItems`/`additionalItems`) do not
 * stop a schema from compiling: validation means the same with or without them.
 *
 * With `review`, nothing strict throws: each strict-mode finding is handed to `review` instead,
 * so that a publish can list every reason at once and tell refusals from warnings.
 */
export function createAjv(review?: (message: string) => void): Ajv {
  const mode = review ? 'log' : true;
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictSchema: mode,
    strictTypes: review ? 'log' : false,
    strictTuples: review ? 'log' : false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: true,
    code: { regExp: LINEAR_REGEXP },
    ...(review
      ? { logger: { log: () => undefined, warn: (...m: unknown[]) => review(m.join(' ')), error: () => undefined } }
      : {}),
  });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-pii', schemaType: ['boolean', 'string'] }); // annotation read by the privacy module
  return ajv;
}
