import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The short chaos run (test/chaos/chaos-run.ts, CHAOS_SHORT=1) as a child process: its own Redis
 * and Postgres, 2 apis and 2 workers, api kill -9 ×7, worker kill -9, Redis SIGKILL + restart and
 * a Postgres immediate restart under at-least-once load. Nothing answered accepted or duplicate may
 * be lost, nothing stored twice.
 *
 * The windows it hunts (docs/reliability.md): an api killed between the dedupe claim and the job
 * add, and a Redis kill in the middle of a request. Both leave a claim without a job; the claim
 * names its job, so the client's retry is settled by the queue and the ledger, never answered
 * `duplicate` for an event that is not stored.
 */
const RUN = join(__dirname, '..', 'dist', 'test', 'chaos', 'chaos-run.js');

describe('chaos run (short): acknowledged means stored', () => {
  it('loses nothing acknowledged and stores nothing twice under kill -9, restarts and outages', async () => {
    if (!existsSync(RUN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    const child = spawn(process.execPath, [RUN], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CHAOS_SHORT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));

    const result = /CHAOS RESULT (\w+) acknowledged=(\d+) lost=(\d+) stored_twice=(\d+) stored_refused=(\d+)/.exec(
      output,
    );
    if (!result) throw new Error(`the chaos run printed no result (exit ${code}):\n${output.slice(-4000)}`);
    const [, , acknowledged, lost, twice, refused] = result.map(Number);
    expect(acknowledged).toBeGreaterThan(1000);
    expect({ lost, stored_twice: twice, stored_refused: refused, exit: code }).toEqual({
      lost: 0,
      stored_twice: 0,
      stored_refused: 0,
      exit: 0,
    });
  }, 240_000);
});
