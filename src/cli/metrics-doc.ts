import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMetricsDoc } from '../modules/rollups/metrics-doc';

/** npm run docs:metrics — writes docs/metrics.md from the metric catalog. */
const file = join(__dirname, '..', '..', '..', 'docs', 'metrics.md');
writeFileSync(file, renderMetricsDoc());
console.log(`Wrote ${file}`);
