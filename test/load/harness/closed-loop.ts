import autocannon from 'autocannon';
import { RequestSource } from './traffic';

export interface LoadRun {
  /** wall seconds of the load */
  seconds: number;
  /** requests answered (any status) */
  answered: number;
  /** requests that got no answer: errors and timeouts */
  errors: number;
  timeouts: number;
  /** milliseconds per answered request */
  latencies: number[];
}

/**
 * Closed loop: `connections` connections, each sending its next request as soon as the previous
 * one is answered, for `seconds`. Every body comes from `source`, which books every answer.
 */
export function closedLoop(opts: {
  port: number;
  path: string;
  connections: number;
  seconds: number;
  headers: Record<string, string>;
  source: RequestSource;
}): { done: Promise<LoadRun>; stop: () => void } {
  const latencies: number[] = [];
  const started = performance.now();
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  type Context = { token?: number };
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${opts.port}${opts.path}`,
      method: 'POST',
      connections: opts.connections,
      duration: opts.seconds,
      timeout: 30,
      headers: { 'content-type': 'application/json', ...opts.headers },
      requests: [
        {
          // With one request in the list, autocannon gives each request a fresh context object, and
          // with no pipelining the same object comes back with its answer.
          setupRequest: (req: autocannon.Request, context: Context) => {
            const { body, token } = opts.source.next();
            context.token = token;
            return { ...req, body };
          },
          onResponse: (status: number, body: string, context: Context) => {
            if (context.token !== undefined) opts.source.answer(context.token, status, body);
          },
        },
      ],
    },
    (err, res) => (err ? fail(err) : finish(res)),
  );
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
  });
  const done = result.then((r) => ({
    seconds: (performance.now() - started) / 1000,
    answered: latencies.length,
    errors: r.errors,
    timeouts: r.timeouts,
    latencies,
  }));
  return { done, stop: () => instance.stop() };
}
