import { parse, type CsvError } from 'csv-parse';
import type { LoadReportBuilder } from './load-report.js';
import { assertReadableFile, openDataStream, type FileOrigin } from './open-lines.js';
import { InputError } from '../errors.js';

/** One CSV record as column name → cell, and the line where the record ends. */
export interface CsvRow {
  line: number;
  row: Record<string, string>;
}

export interface CsvReadOptions {
  /** Field separator: `','` (default) or `'\t'` for TSV. */
  delimiter?: string;
  /** Header names that must exist, each with the config field that asked for it (for the error). */
  required?: { column: string; field: string }[];
}

/**
 * Reads a CSV file with a header row (`.gz` allowed), by column name, with csv-parse (quoted
 * fields may span lines). Every record after the header is counted as read; a record that
 * cannot be parsed (a stray quote, ...) or whose number of cells differs from the header's goes
 * to `report.bad` with its line; blank lines are counted as dropped under `"blank line"`.
 * A required column missing from the header is an error naming the column, the config field
 * and the columns found.
 */
export async function* readCsv(
  file: string,
  report: LoadReportBuilder,
  options: CsvReadOptions = {},
  origin: FileOrigin = {},
): AsyncGenerator<CsvRow> {
  assertReadableFile(file, origin);
  const skipped: { line: number; message: string }[] = [];
  const parser = openDataStream(file).pipe(
    parse({
      delimiter: options.delimiter ?? ',',
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: false,
      skip_records_with_error: true,
      on_skip: (err: CsvError | undefined) => {
        skipped.push({ line: Number(err?.lines ?? 0), message: err?.message ?? 'unparsable record' });
        return undefined;
      },
    }),
  );
  const flushSkipped = () => {
    for (const s of skipped.splice(0)) {
      report.row();
      report.bad(s.line, 'malformed CSV', s.message);
    }
  };
  let header: string[] | undefined;
  for await (const item of parser as AsyncIterable<{ info: { lines: number }; record: string[] }>) {
    flushSkipped();
    const { info, record } = item;
    const blank = record.length === 1 && record[0]!.trim() === '';
    if (!header) {
      if (blank) continue;
      header = record.map((h) => h.trim());
      for (const { column, field } of options.required ?? []) {
        if (!header.includes(column)) {
          throw new InputError(`${field}: column "${column}" is not in the header of ${file}; columns found: ${header.join(', ')}`);
        }
      }
      continue;
    }
    report.row();
    if (blank) {
      report.filtered('blank line');
      continue;
    }
    if (record.length !== header.length) {
      report.bad(info.lines, 'wrong number of CSV cells', `expected ${header.length} (as in the header), got ${record.length}`);
      continue;
    }
    const row: Record<string, string> = {};
    header.forEach((name, i) => {
      row[name] = record[i]!;
    });
    yield { line: info.lines, row };
  }
  flushSkipped();
  if (!header) throw new InputError(`${origin.field ?? 'path'}: ${file} is empty: a CSV file needs a header row`);
}
