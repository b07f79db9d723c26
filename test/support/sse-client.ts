import { waitFor } from './events';

export interface SseEvent {
  id: string | null;
  event: string;
  data: any;
}

/**
 * A Server-Sent Events client over fetch, parsing the stream as EventSource does (id, event,
 * data, comments); it does not reconnect by itself, so tests decide when and with which id.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  ended = false;
  private readonly abort = new AbortController();

  private constructor() {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const c = new SseClient();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: c.abort.signal });
    c.status = res.status;
    if (res.status !== 200) {
      const body = await res.text();
      throw Object.assign(new Error(`stream answered ${res.status}: ${body}`), {
        status: res.status,
        body: JSON.parse(body),
      });
    }
    void c.read(res.body!);
    return c;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          this.dispatch(buf.slice(0, end));
          buf = buf.slice(end + 2);
        }
      }
    } catch {
      /* aborted or cut */
    }
    this.ended = true;
  }

  private dispatch(block: string): void {
    let id: string | null = null;
    let event = 'message';
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') {
        data.push(value);
        any = true;
      }
    }
    if (any) this.events.push({ id, event, data: JSON.parse(data.join('\n')) });
  }

  folds(): SseEvent[] {
    return this.events.filter((e) => e.event === 'fold');
  }

  /** Events of the tenant the folds received so far carried. */
  foldedEvents(): number {
    return this.folds().reduce((n, e) => n + (e.data.events as number), 0);
  }

  async waitForEvents(n: number, timeoutMs = 20000): Promise<void> {
    await waitFor(
      `${n} folded events on the stream (have ${this.foldedEvents()})`,
      () => this.foldedEvents() >= n,
      timeoutMs,
      10,
    );
  }

  close(): void {
    this.abort.abort();
  }
}
