/**
 * Groups items that arrive close together (single-event requests) into one flush, so that a stream
 * of them becomes one queue job and one Postgres statement per group, not per event. Each caller
 * waits for the flush that carries its items and gets the flush's results for its own items, in
 * order (the flush function answers one result per item).
 *
 * Flushes are spaced, not delayed: a flush happens as soon as the previous one is at least
 * `lingerMs` old (at the end of the current turn of the event loop, so that requests read in the
 * same turn share it), else when it becomes that old. A quiet stream's event is sent at once
 * instead of waiting out a linger, and a busy stream still makes at most one flush per `lingerMs`,
 * carrying everything that arrived meanwhile.
 */
export class EventBatcher<T, R = void> {
  private pending: { items: T[]; resolve: (results: R[]) => void; reject: (err: unknown) => void }[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private lastFlushAt = -Infinity;
  private draining = false;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<R[]>,
    private readonly opts: { maxItems: number; lingerMs: number },
  ) {}

  add(items: T[]): Promise<R[]> {
    return new Promise<R[]>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.size += items.length;
      if (this.draining || this.size >= this.opts.maxItems) this.flush();
      else this.schedule();
    });
  }

  /**
   * On shutdown: sends what is waiting now, and from now on each item as it comes, without
   * lingering. Returns how many items were waiting.
   */
  drain(): number {
    this.draining = true;
    const waiting = this.size;
    this.flush();
    return waiting;
  }

  /** Sends everything waiting now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.immediate = null;
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    this.size = 0;
    this.lastFlushAt = performance.now();
    this.flushFn(group.flatMap((g) => g.items)).then(
      (results) => {
        let at = 0;
        for (const g of group) {
          g.resolve(results.slice(at, at + g.items.length));
          at += g.items.length;
        }
      },
      (err) => group.forEach((g) => g.reject(err)),
    );
  }

  private schedule(): void {
    if (this.timer || this.immediate) return;
    const wait = this.lastFlushAt + this.opts.lingerMs - performance.now();
    if (wait <= 0) this.immediate = setImmediate(() => this.flush());
    else this.timer = setTimeout(() => this.flush(), wait);
  }
}
