import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderOtlpDoc } from '../modules/otlp/otlp-doc';

/** npm run docs:otlp — writes docs/otlp.md from the OTLP mapping table. */
const file = join(__dirname, '..', '..', '..', 'docs', 'otlp.md');
writeFileSync(file, renderOtlpDoc());
console.log(`Wrote ${file}`);
