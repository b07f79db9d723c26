import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';

/** The built service: dist/src, seen from test/support under jest or from dist/test/support when compiled. */
export const DIST =
  basename(join(__dirname, '..', '..')) === 'dist'
    ? join(__dirname, '..', '..', 'src')
    : join(__dirname, '..', '..', 'dist', 'src');

export function requireBuild(): void {
  if (!existsSync(join(DIST, 'worker.js')))
    throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
}

/** Runs a role (`main.js` or `worker.js`) as a real child process; resolves its output and exit. */
export function runRole(script: 'main.js' | 'worker.js' | 'launcher.js', env: Record<string, string>) {
  requireBuild();
  const child: ChildProcess = spawn(process.execPath, [join(DIST, script)], {
    // Roles of parallel test files share the machine: their metrics and probe ports are the kernel's pick unless given.
    env: { PATH: process.env.PATH ?? '', ANALYTICS_METRICS_PORT: '0', ANALYTICS_WORKER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // 'close' comes after the process exited and its output pipes ended: every line it wrote is read.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    exited,
    closed,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/** A port that was free a moment ago (the kernel's pick, so never one in use by an outgoing socket). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts the api as a child process on a free port and waits until it answers liveness.
 * If the process exits first, fails at once with its output instead of waiting out the timeout.
 */
export async function startApiProcess(env: Record<string, string>, timeoutMs = 30000) {
  const port = await freePort();
  const api = runRole('main.js', { ...env, PORT: String(port), HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  void api.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`the api exited before it answered:\n${api.stdout}${api.stderr}`);
    try {
      if ((await fetch(`${base}/api/v1/analytics/health/live`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      api.child.kill('SIGKILL');
      throw new Error(`the api did not answer within ${timeoutMs} ms:\n${api.stdout}${api.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ...api,
    base,
    get stdout() {
      return api.stdout;
    },
    get stderr() {
      return api.stderr;
    },
  };
}
