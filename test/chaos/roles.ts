import { join } from 'node:path';
import { Child } from '../load/harness/children';
import { sleep } from './infra';

const DIST_SRC = join(__dirname, '..', '..', 'src');

export type RoleKind = 'api' | 'worker';

/**
 * One api or worker process of the run, kept alive: killed (by a fault, or by itself) it is started
 * again, on the same port for an api, until the run stops. Starting is retried while a dependency
 * is down (a role may exit at start-up when Postgres or Redis is away), a bounded number of times.
 */
export class Role {
  private child: Child | null = null;
  /** the process is up and answering (api: liveness; worker: consuming) */
  ready = false;
  /** exits that no fault asked for */
  unexpectedExits = 0;
  starts = 0;
  /** starts that exited or timed out before the process was ready (a dependency was down) */
  failedStarts = 0;
  private expectingExit = false;
  private stopped = false;
  private starting: Promise<number> | null = null;

  constructor(
    readonly name: string,
    readonly kind: RoleKind,
    private readonly env: NodeJS.ProcessEnv,
    readonly port: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  output(last = 30): string {
    return this.child?.output(last) ?? '';
  }

  /** Starts the process and resolves when it is ready (the time it became ready). */
  start(): Promise<number> {
    this.starting ??= this.startLoop().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async startLoop(): Promise<number> {
    let lastError = '';
    for (let attempt = 0; attempt < 40 && !this.stopped; attempt++) {
      const child = this.spawn();
      try {
        await child.waitFor(this.kind === 'api' ? /Listening on/ : /Consuming queues/, 60_000);
        if (this.kind === 'api') await this.live(15_000);
        this.ready = true;
        return Date.now();
      } catch (err) {
        lastError = (err as Error).message;
        this.failedStarts++;
        this.log(`${this.name} did not start (attempt ${attempt + 1}): ${brief(lastError)}`);
        this.expectingExit = true;
        await child.stop(2000);
        await sleep(1000);
      }
    }
    if (this.stopped) return Date.now();
    throw new Error(`${this.name} could not be started again: ${lastError}`);
  }

  private async live(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${this.base}/api/v1/analytics/health/live`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${this.name} did not answer liveness within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  private spawn(): Child {
    this.expectingExit = false;
    this.starts++;
    const script = join(DIST_SRC, this.kind === 'api' ? 'main.js' : 'worker.js');
    const child = new Child(this.name, script, {
      ANALYTICS_METRICS_PORT: '0',
      ANALYTICS_WORKER_PORT: '0',
      ...this.env,
      PORT: String(this.port),
    });
    this.child = child;
    child.process.once('exit', () => {
      if (this.child !== child) return;
      this.ready = false;
      if (this.expectingExit || this.stopped || this.starting) return;
      // Died by itself: counted, and started again.
      this.unexpectedExits++;
      void this.start().catch(() => undefined);
    });
    return child;
  }

  private async waitExit(): Promise<void> {
    const p = this.child?.process;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => p.once('exit', () => r()));
  }

  /** kill -9, then started again in the background; resolves the time it is ready again. */
  async kill9(): Promise<{ back: Promise<number> }> {
    this.expectingExit = true;
    this.ready = false;
    this.child?.process.kill('SIGKILL');
    await this.waitExit();
    return { back: this.start() };
  }

  /** SIGTERM (its graceful shutdown, SIGKILL after 20 s), then started again; resolves the time it is ready again. */
  async term(): Promise<{ back: Promise<number> }> {
    this.expectingExit = true;
    this.ready = false;
    await this.child?.stop(20_000);
    return { back: this.start() };
  }

  /** Stops for good (SIGTERM, then SIGKILL). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.expectingExit = true;
    this.ready = false;
    await this.child?.stop(graceMs);
  }
}

/** The first line of an error and the last lines of output it quotes. */
function brief(message: string): string {
  const lines = message.split('\n').filter(Boolean);
  return (lines.length > 4 ? [lines[0], '…', ...lines.slice(-3)] : lines).join(' | ');
}
