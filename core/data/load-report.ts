import type { LoadReport } from '../interfaces/dataset.js';
import { InputError } from '../errors.js';

/**
 * What to do with a row that cannot be used as it stands (malformed JSON, a missing field, a
 * field of the wrong type): `'skip'` drops it, counts it under its reason and lists it in the
 * report's `problems`; `'fail'` stops loading with an error naming the file and line.
 */
export type OnBadRow = 'skip' | 'fail';
export const ON_BAD_ROW = ['skip', 'fail'] as const;

/** How many problems a report lists in full; the rest are summarised in one line. */
export const MAX_LISTED_PROBLEMS = 20;

/**
 * Builds a {@link LoadReport} while a file is read, so nothing is dropped silently.
 *
 * Every row read goes to exactly one of: {@link keep}, {@link filtered} (a deliberate filter,
 * e.g. toxicity below the threshold) or {@link bad} (a data problem, listed with file and line).
 * So `read === kept + Σ dropped` always holds.
 */
export class LoadReportBuilder {
  private read = 0;
  private kept = 0;
  private readonly dropped: Record<string, number> = {};
  private readonly problems: string[] = [];
  private unlisted = 0;

  /**
   * @param source file path shown in the report and in every problem
   * @param onBadRow `'fail'` makes {@link bad} throw
   */
  constructor(
    readonly source: string,
    readonly onBadRow: OnBadRow = 'skip',
  ) {}

  /** Counts one row read from the source (call once per row, before keep/filtered/bad). */
  row(): void {
    this.read += 1;
  }

  /** The row became a prompt. */
  keep(): void {
    this.kept += 1;
  }

  /** The row was dropped on purpose by a filter (`reason` e.g. `"prompt.toxicity <= 0.3"`). */
  filtered(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  /**
   * The row at `line` is unusable. With onBadRow `'skip'` it is counted under `reason` and
   * listed as `<source>:<line>: <reason>[: detail]`; with `'fail'` this throws that message.
   */
  bad(line: number, reason: string, detail?: string): void {
    const message = `${this.source}:${line}: ${reason}${detail ? `: ${detail}` : ''}`;
    if (this.onBadRow === 'fail') {
      throw new InputError(`${message} (onBadRow is 'fail'; set onBadRow: 'skip' to drop and count such rows)`);
    }
    this.filtered(reason);
    if (this.problems.length < MAX_LISTED_PROBLEMS) this.problems.push(message);
    else this.unlisted += 1;
  }

  /** Rows kept so far. */
  get keptCount(): number {
    return this.kept;
  }

  /** The finished report (a copy; the builder may go on counting). */
  build(): LoadReport {
    const problems = [...this.problems];
    if (this.unlisted > 0) problems.push(`... and ${this.unlisted} more problem(s) not listed`);
    return { source: this.source, read: this.read, kept: this.kept, dropped: { ...this.dropped }, problems };
  }
}

/** One line summary of a report for the console: `read 30, kept 12; dropped: a 3, b 1`. */
export function describeReport(report: LoadReport): string {
  const dropped = Object.entries(report.dropped)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  return `read ${report.read}, kept ${report.kept}${dropped ? `; dropped: ${dropped}` : ''}`;
}
