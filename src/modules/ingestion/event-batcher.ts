/**
 * Groups items that arrive close together (single-event requests) into one flush, so that a stream
 * of them becomes one queue job and one Postgres transaction per group, not per event. Each caller
 * waits for the flush that carries its items and sees its outcome.
 */
export class EventBatcher<T> {
  private pending: { items: T[]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<void>,
    private readonly opts: { maxItems: number; lingerMs: number },
  ) {}

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.size += items.length;
      if (this.size >= this.opts.maxItems) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.lingerMs);
    });
  }

  /** Sends everything waiting now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    this.size = 0;
    this.flushFn(group.flatMap((g) => g.items)).then(
      () => group.forEach((g) => g.resolve()),
      (err) => group.forEach((g) => g.reject(err)),
    );
  }
}
