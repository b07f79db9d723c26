import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMetricsDoc } from './metrics-doc';

describe('docs/metrics.md', () => {
  it('is exactly what the catalog generates (run `npm run docs:metrics` after changing a metric)', () => {
    expect(readFileSync(join(__dirname, '..', '..', '..', 'docs', 'metrics.md'), 'utf8')).toBe(renderMetricsDoc());
  });
});
