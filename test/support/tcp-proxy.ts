import net from 'node:net';

/**
 * A loopback TCP proxy in front of Postgres or Redis. `cut()` drops every connection and refuses
 * new ones, which is how a test makes a real dependency unreachable without stopping it for others.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private armed: { marker: string; done: () => void } | null = null;
  private hanging = false;
  private held: { upstream: net.Socket; chunk: Buffer }[] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.pipe(client);
      client.on('data', (chunk: Buffer) => {
        if (this.hanging) {
          this.held.push({ upstream, chunk });
          return;
        }
        upstream.write(chunk);
        const armed = this.armed;
        if (armed && chunk.includes(armed.marker)) {
          // The request reached the server; its answer never reaches the client.
          this.armed = null;
          upstream.unpipe(client);
          upstream.once('data', () => {
            client.destroy();
            upstream.destroy();
            armed.done();
          });
          upstream.resume(); // unpipe paused it
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /**
   * The next request whose bytes contain `marker` is delivered to the server, and the connection is
   * dropped as the server's answer comes back, before the client reads it: the server did the work,
   * the client saw only a lost connection. Resolves once that happened.
   */
  dropAnswerTo(marker: string): Promise<void> {
    return new Promise((done) => {
      this.armed = { marker, done };
    });
  }

  /** Holds every request from now on, answering nothing and closing nothing: a server that hangs. */
  hang(): void {
    this.hanging = true;
  }

  /** Delivers what was held, and forwards again. */
  unhang(): void {
    this.hanging = false;
    for (const { upstream, chunk } of this.held.splice(0)) if (!upstream.destroyed) upstream.write(chunk);
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    await this.start(this.port);
  }
}
