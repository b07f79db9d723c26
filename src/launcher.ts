import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * Runs the api and the worker as two processes on one machine (production runs them as separate
 * deployments). If either exits, the other is stopped and the launcher exits with its code.
 *
 * Each role reports over an IPC channel once it is ready (see `LAUNCHER_IPC`); when both have, the
 * launcher prints one "Ready" line and then, on a first start in development, the demo tenant and
 * its keys, so that they are the last lines of start-up rather than lost among the others.
 */
const roles: Record<string, string> = { api: join(__dirname, 'main.js'), worker: join(__dirname, 'worker.js') };
const children = new Map<string, ChildProcess>();
const ready = new Set<string>();
let apiUrl = '';
/** The demo keys the api created: shown once, after the ready line (or on the way out if start-up fails). */
let demoBlock = '';
let announced = false;
let stopping = false;

/** Set for the roles this launcher starts: they hand their ready report (and demo keys) to it. */
export const LAUNCHER_IPC = 'ANALYTICS_LAUNCHER_IPC';

/** What a role sends the launcher once it is ready. */
export interface ReadyReport {
  type: 'ready';
  role: 'api' | 'worker';
  /** The api's address. */
  url?: string;
  /** The api's demo tenant and keys, when it has just created them. */
  demo?: string;
}

/**
 * Called by a role once it is ready: tells the launcher that started it. Returns false, and sends
 * nothing, when the role was not started by the launcher (its output is then its own to print).
 */
export function reportReady(report: Omit<ReadyReport, 'type'>): boolean {
  if (!process.env[LAUNCHER_IPC] || !process.send || !process.connected) return false;
  process.send({ type: 'ready', ...report } satisfies ReadyReport, undefined, {}, (err) => {
    // The launcher is gone: the demo keys are printed here rather than lost.
    if (err && report.demo) process.stdout.write(report.demo);
  });
  return true;
}

function isReadyReport(m: unknown): m is ReadyReport {
  return typeof m === 'object' && m !== null && (m as ReadyReport).type === 'ready';
}

function flushDemo(): void {
  if (demoBlock) process.stdout.write(demoBlock);
  demoBlock = '';
}

function onReport(role: string, m: ReadyReport): void {
  if (m.url) apiUrl = m.url;
  if (m.demo) demoBlock = m.demo;
  ready.add(role);
  if (announced || ready.size < Object.keys(roles).length) return;
  announced = true;
  process.stdout.write(`\nReady: api at ${apiUrl}, worker consuming queues (Ctrl-C stops both)\n`);
  flushDemo();
}

function stopAll(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children.values()) if (child.exitCode === null) child.kill(signal);
}

if (require.main === module) {
  for (const [role, script] of Object.entries(roles)) {
    const child = spawn(process.execPath, [...process.execArgv, script], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [LAUNCHER_IPC]: '1' },
    });
    children.set(role, child);
    child.on('message', (m) => {
      if (isReadyReport(m)) onReport(role, m);
    });
    child.on('exit', (code, signal) => {
      children.delete(role);
      // Keys that were created are never shown again: print them even when start-up did not finish.
      flushDemo();
      if (!stopping) {
        process.stderr.write(`${role} exited (${signal ?? `code ${code}`}); stopping the other role\n`);
        process.exitCode = code ?? 1;
        stopAll('SIGTERM');
      }
      if (children.size === 0) process.exit(process.exitCode ?? 0);
    });
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => stopAll(sig));
}
