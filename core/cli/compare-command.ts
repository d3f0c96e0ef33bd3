/**
 * `detox-lab compare <experiment-dir>`: prints the comparison table of an experiment's arms (md, csv or json) and
 * writes the plot of their curves as SVG.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareExperiment, comparePlot } from '../compare/compare.js';
import { formatCsv, formatJson, formatMarkdown } from '../compare/format.js';
import { UserError } from '../exit.js';

/** Options of the command (as commander parses them). */
interface CompareOptions {
  format: 'md' | 'csv' | 'json';
  /** Steps averaged for the last-K columns (a decimal integer ≥ 1). */
  lastK: string;
  /** SVG path; undefined = `<dir>/compare.svg`; false = no plot (`--no-plot`). */
  plot?: string | false;
}

/** Runs the command: the table to `out` (stdout), messages to stderr. Returns the plot's path, if one was written. */
export async function compareCommand(
  dir: string,
  o: CompareOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<string | undefined> {
  const lastK = Number(o.lastK);
  if (!Number.isInteger(lastK) || lastK < 1) throw new UserError(`--last-k: expected an integer ≥ 1, got ${JSON.stringify(o.lastK)}`);
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
    throw new UserError(`${dir}: no such folder (give runs/<experiment>, the folder holding the arm folders)`);
  }
  let result;
  try {
    result = compareExperiment(abs, { lastK });
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const text = o.format === 'csv' ? formatCsv(result) : o.format === 'json' ? formatJson(result) : formatMarkdown(result);
  out.write(`${text}\n`);
  if (o.plot === false) return undefined;
  const file = path.resolve(o.plot ?? path.join(abs, 'compare.svg'));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, comparePlot(result));
  process.stderr.write(
    `${result.arms.length} arm${result.arms.length > 1 ? 's' : ''}; plot written to ${path.relative(process.cwd(), file) || file}\n`,
  );
  return file;
}
