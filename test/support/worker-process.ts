import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DIST = join(__dirname, '..', '..', 'dist', 'src');

export function requireBuild(): void {
  if (!existsSync(join(DIST, 'worker.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
}

/** Runs a role (`main.js` or `worker.js`) as a real child process; resolves its output and exit. */
export function runRole(script: 'main.js' | 'worker.js' | 'launcher.js', env: Record<string, string>) {
  requireBuild();
  const child: ChildProcess = spawn(process.execPath, [join(DIST, script)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
  };
}
