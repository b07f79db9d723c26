/**
 * Baseline server: bare Express (the major the service is built on) parsing the same JSON bodies
 * with express.json and the same limit, answering 202 with a small JSON body. Run as a child
 * process by the load harness: PORT and LIMIT_KB from the environment; prints "listening".
 */
import express, { Request, Response } from 'express';

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: `${Number(process.env.LIMIT_KB ?? 500)}kb` }));
app.post(['/api/v1/analytics/events', '/api/v1/analytics/events/batch'], (req: Request, res: Response) => {
  const body = req.body as { events?: unknown[] } | undefined;
  const n = Array.isArray(body?.events) ? body.events.length : 1;
  res.status(202).json({ received: n, accepted: n });
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
