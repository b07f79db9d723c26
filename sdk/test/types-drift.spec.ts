import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

describe('the SDK types', () => {
  it('are exactly what openapi-typescript makes of the committed openapi.yaml (run `npm run openapi` after changing the API)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdk-types-'));
    try {
      const out = join(dir, 'openapi.ts');
      const run = spawnSync(
        join(ROOT, 'node_modules', '.bin', 'openapi-typescript'),
        [join(ROOT, 'openapi.yaml'), '--redocly', join(ROOT, 'sdk', 'redocly.yaml'), '-o', out],
        { cwd: join(ROOT, 'sdk'), encoding: 'utf8' },
      );
      expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(ROOT, 'sdk', 'src', 'openapi.ts'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
