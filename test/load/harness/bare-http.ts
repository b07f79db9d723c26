/**
 * Reference server: bare node:http reading the body, JSON.parse-ing it and answering 202 with a
 * small JSON body. Run as a child process by the load harness: PORT from the environment; prints
 * "listening".
 */
import http from 'node:http';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let n = 1;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events?: unknown[] };
      if (Array.isArray(body.events)) n = body.events.length;
    } catch {
      res.writeHead(400).end();
      return;
    }
    const out = JSON.stringify({ received: n, accepted: n });
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
