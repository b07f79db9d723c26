/**
 * One progress line on the terminal: rewritten in place with \r when stdout is a TTY, otherwise a
 * plain line every few seconds (so a log file stays readable).
 */
export class Progress {
  private readonly tty = Boolean(process.stdout.isTTY);
  private open = false;
  private lastPlain = 0;

  update(line: string): void {
    if (this.tty) {
      process.stdout.write(`\r${line}\x1b[K`);
      this.open = true;
    } else if (Date.now() - this.lastPlain >= 5000) {
      process.stdout.write(`${line}\n`);
      this.lastPlain = Date.now();
    }
  }

  /** A line that stays: ends the progress line first. */
  log(line: string): void {
    this.end();
    process.stdout.write(`${line}\n`);
    this.lastPlain = 0;
  }

  end(): void {
    if (this.open) process.stdout.write('\n');
    this.open = false;
  }
}

export const progress = new Progress();
