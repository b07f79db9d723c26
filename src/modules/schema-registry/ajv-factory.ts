import Ajv from 'ajv';
import addFormats from 'ajv-formats';

/** One configuration for every validator the registry compiles: strict, all errors, standard formats. */
export function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: true,
  });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'x-pii', schemaType: ['boolean', 'string'] }); // annotation read by the privacy module
  return ajv;
}
