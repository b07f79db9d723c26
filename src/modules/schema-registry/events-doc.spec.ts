import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEventsDoc } from './events-doc';

describe('docs/events.md', () => {
  it('is exactly what the registry generates (run `npm run docs:events` after changing a schema)', () => {
    expect(readFileSync(join(__dirname, '..', '..', '..', 'docs', 'events.md'), 'utf8')).toBe(renderEventsDoc());
  });
});
