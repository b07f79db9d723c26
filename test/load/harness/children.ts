import { ChildProcess, spawn } from 'node:child_process';

/** A node child process whose output is kept (the last 200 lines) rather than printed. */
export class Child {
  readonly process: ChildProcess;
  private lines: string[] = [];
  private exited: string | null = null;
  /** set when the process ends without being asked to */
  crashed: string | null = null;
  private stopping = false;

  constructor(
    readonly name: string,
    script: string,
    env: NodeJS.ProcessEnv,
    nodeArgs: string[] = [],
  ) {
    this.process = spawn(process.execPath, [...nodeArgs, script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.lines.push(...d.toString('utf8').split('\n').filter(Boolean));
      if (this.lines.length > 200) this.lines = this.lines.slice(-200);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.process.on('exit', (code, signal) => {
      this.exited = signal ?? `code ${code}`;
      if (!this.stopping) this.crashed = `${name} exited (${this.exited})`;
    });
    live.add(this);
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  output(last = 30): string {
    return this.lines.slice(-last).join('\n');
  }

  /** Resolves when a line of output matches; fails if the process exits first or after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.some((l) => pattern.test(l))) {
      if (this.exited) throw new Error(`${this.name} exited (${this.exited}) before it was ready:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready after ${timeoutMs} ms:\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    live.delete(this);
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.process.once('exit', () => r()));
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

const live = new Set<Child>();

/** Stops every child still running (cleanup, also on failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop()));
}
