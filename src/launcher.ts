import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs the api and the worker as two processes on one machine (production runs them as separate
 * deployments). If either exits, the other is stopped and the launcher exits with its code.
 */
const roles: Record<string, string> = { api: join(__dirname, 'main.js'), worker: join(__dirname, 'worker.js') };
const children = new Map<string, ChildProcess>();
let stopping = false;

function stopAll(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children.values()) if (child.exitCode === null) child.kill(signal);
}

for (const [role, script] of Object.entries(roles)) {
  const child = spawn(process.execPath, [...process.execArgv, script], { stdio: 'inherit', env: process.env });
  children.set(role, child);
  child.on('exit', (code, signal) => {
    children.delete(role);
    if (!stopping) {
      process.stderr.write(`${role} exited (${signal ?? `code ${code}`}); stopping the other role\n`);
      process.exitCode = code ?? 1;
      stopAll('SIGTERM');
    }
    if (children.size === 0) process.exit(process.exitCode ?? 0);
  });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopAll(sig));
