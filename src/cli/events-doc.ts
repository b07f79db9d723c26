import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEventsDoc } from '../modules/schema-registry/events-doc';

/** npm run docs:events — writes docs/events.md from the built-in schemas. */
const file = join(__dirname, '..', '..', '..', 'docs', 'events.md');
writeFileSync(file, renderEventsDoc());
console.log(`Wrote ${file}`);
