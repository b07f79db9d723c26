import { ProblemException } from '../../common/problem';
import { Clock } from '../../common/clock';

/**
 * One deadline for a whole report, read from the api's clock: its queries get what is left of it
 * as their statement timeout, and the work after them checks it as it goes.
 */
export class ReportDeadline {
  private readonly at: number;

  constructor(
    private readonly clock: Clock,
    readonly budgetMs: number,
  ) {
    this.at = clock.now() + budgetMs;
  }

  /** The milliseconds left for the next statement; a 504 when none are. */
  remainingMs(): number {
    const left = this.at - this.clock.now();
    if (left <= 0) throw this.expired('before its next query');
    return left;
  }

  /** A 504 when the deadline has passed, saying where the report was. */
  check(where: string): void {
    if (this.clock.now() >= this.at) throw this.expired(where);
  }

  expired(where: string, hint = 'Choose a shorter range.'): ProblemException {
    return new ProblemException(
      504,
      'report-timeout',
      'Report timed out',
      `The report ran past ${this.budgetMs} ms (ANALYTICS_REPORT_TIMEOUT_MS) ${where}. ${hint}`,
    );
  }
}
