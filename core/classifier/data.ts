/**
 * Labelled text for training and validating toxicity classifiers: the Davidson tweets and the ToxiGen statements
 * shipped beside the project (`../shared/data/toxicity-labels/`, see its README) and users' own CSV files.
 *
 * Every reader returns {@link LabelledText} rows with label 1 = toxic, 0 = neutral. Texts are normalised once here
 * (HTML entities decoded, @mentions → `@user`, URLs → `http`, a leading retweet marker dropped, whitespace
 * collapsed) so that training, validation and `eval-classifier` all see the same strings, and the same statement
 * written twice is one row. Splitting is by a hash of the normalised text, so a text is in the same split in every
 * run and for every seed, and duplicates can never straddle train and validation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { InputError } from '../errors.js';
import { hashUnit } from '../data/split.js';

/** One labelled text. */
export interface LabelledText {
  text: string;
  /** 1 = toxic, 0 = neutral. */
  label: 0 | 1;
  /** Where it came from: `davidson`, `toxigen`, or the name given to a user's file. */
  source: string;
  /** ToxiGen's target group (`asian`, `women`, …); absent for other sources. */
  group?: string;
}

const DAVIDSON_FILE = 'davidson-labeled_data.csv';
const TOXIGEN_FOLDER = 'toxigen-prompts';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The one normal form of a text (see the module comment); empty when nothing is left. */
export function normaliseText(raw: string): string {
  return raw
    .replace(/&(#x?[0-9a-f]+|[a-z]+);/gi, (m, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
      }
      return ENTITIES[name.toLowerCase()] ?? m;
    })
    .replace(/https?:\/\/\S+/gi, 'http')
    .replace(/@\w+/g, '@user')
    .replace(/^\s*(?:RT\s+@user:?\s*)+/i, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The key two texts share when they are the same statement: the normal form, lower-cased. */
export function textKey(text: string): string {
  return normaliseText(text).toLowerCase();
}

/**
 * One row per distinct text (by {@link textKey}), first occurrence kept. A text that appears with both labels is
 * dropped altogether (its label is unknown); `conflicts` counts such texts.
 */
function dedupeTexts(items: readonly LabelledText[]): LabelledText[] {
  return dedupeWithCounts(items).items;
}

export function dedupeWithCounts(items: readonly LabelledText[]): { items: LabelledText[]; duplicates: number; conflicts: number } {
  const byKey = new Map<string, { item: LabelledText; conflict: boolean }>();
  let duplicates = 0;
  for (const item of items) {
    const key = textKey(item.text);
    const seen = byKey.get(key);
    if (!seen) {
      byKey.set(key, { item, conflict: false });
      continue;
    }
    duplicates++;
    if (seen.item.label !== item.label) seen.conflict = true;
  }
  const out: LabelledText[] = [];
  let conflicts = 0;
  for (const { item, conflict } of byKey.values()) {
    if (conflict) conflicts++;
    else out.push(item);
  }
  return { items: out, duplicates, conflicts };
}

/**
 * Validation share per source when none is given for it. ToxiGen's prompt files hold only ~670 distinct statements
 * (~10 neutral ones per group), so it keeps a larger share for validation than the ~24k Davidson tweets do: enough
 * held-out neutral statements per group for the false-positive table to mean something.
 */
export const DEFAULT_VALIDATION_BY_SOURCE: Readonly<Record<string, number>> = { toxigen: 0.3 };

/**
 * Train/validation split by a hash of the text's key (seed 0 of the project's splitter, fixed: a text lands in the
 * same split in every run and for every training seed). `bySource` overrides the fraction for named sources
 * (default {@link DEFAULT_VALIDATION_BY_SOURCE}). De-duplicate first (the readers here do), so that no statement sits
 * on both sides.
 */
export function splitByHash(
  items: readonly LabelledText[],
  validationFraction: number,
  bySource: Readonly<Record<string, number>> = DEFAULT_VALIDATION_BY_SOURCE,
): { train: LabelledText[]; validation: LabelledText[] } {
  for (const [what, f] of [
    ['validation fraction', validationFraction],
    ...Object.entries(bySource).map(([s, f]) => [`validation fraction of ${s}`, f] as const),
  ] as const) {
    if (!(f > 0 && f < 1)) throw new InputError(`${what}: ${f} is not allowed; use a number between 0 and 1 (exclusive), e.g. 0.1`);
  }
  const train: LabelledText[] = [];
  const validation: LabelledText[] = [];
  for (const item of items) {
    const fraction = bySource[item.source] ?? validationFraction;
    (hashUnit(textKey(item.text), 0) < fraction ? validation : train).push(item);
  }
  return { train, validation };
}

/**
 * The Davidson et al. tweets: toxic = hate speech (class 0) or offensive language (class 1), neutral = neither
 * (class 2), the annotators' majority. Not de-duplicated.
 */
function readDavidson(file: string): LabelledText[] {
  const rows = parseCsvFile(file);
  const out: LabelledText[] = [];
  rows.forEach((row, i) => {
    const cls = row['class'];
    const tweet = row['tweet'];
    if (cls === undefined || tweet === undefined) {
      throw new InputError(`${file}: line ${i + 2} has no "class" or "tweet" column; expected the Davidson et al. labeled_data.csv layout`);
    }
    if (cls !== '0' && cls !== '1' && cls !== '2') {
      throw new InputError(`${file}: line ${i + 2}: class "${cls}" is not one of 0 (hate), 1 (offensive), 2 (neither)`);
    }
    const text = normaliseText(tweet);
    if (text) out.push({ text, label: cls === '2' ? 0 : 1, source: 'davidson' });
  });
  return out;
}

/**
 * The ToxiGen prompt files: `hate_<group>_1k.txt` (every statement implicitly hateful toward the group) and
 * `neutral_<group>_1k.txt` (benign statements that mention it). Each line lists statements separated by a literal
 * `\n`, each with a leading `- `. Not de-duplicated (the same statement recurs across lines).
 */
export function readToxigen(folder: string): LabelledText[] {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new InputError(`${folder}: no such folder; expected ToxiGen's prompts/ files (hate_<group>_1k.txt, neutral_<group>_1k.txt)`);
  }
  const out: LabelledText[] = [];
  const files = fs
    .readdirSync(folder)
    .filter((f) => /^(hate|neutral)_.+\.txt$/.test(f))
    .sort();
  if (files.length === 0) throw new InputError(`${folder}: no hate_<group>_*.txt or neutral_<group>_*.txt files`);
  for (const name of files) {
    const m = /^(hate|neutral)_(.+?)(?:_\d+k)?\.txt$/.exec(name)!;
    const label = m[1] === 'hate' ? 1 : 0;
    const group = m[2]!;
    for (const line of fs.readFileSync(path.join(folder, name), 'utf8').split(/\r?\n/)) {
      for (const piece of line.split('\\n')) {
        const text = normaliseText(piece.replace(/^\s*-\s*/, ''));
        if (text) out.push({ text, label, source: 'toxigen', group });
      }
    }
  }
  return out;
}

/**
 * The toxicity-labels folder (Davidson + ToxiGen), each source de-duplicated on its own (a text in both sources is
 * kept in both: they answer different questions).
 */
export function loadToxicityLabels(dir: string): LabelledText[] {
  const davidson = path.join(dir, DAVIDSON_FILE);
  const toxigen = path.join(dir, TOXIGEN_FOLDER);
  if (!fs.existsSync(davidson) && !fs.existsSync(toxigen)) {
    throw new InputError(
      `labels folder ${dir}: has neither ${DAVIDSON_FILE} nor ${TOXIGEN_FOLDER}/ (see ../shared/data/toxicity-labels/README.md)`,
    );
  }
  const out: LabelledText[] = [];
  if (fs.existsSync(davidson)) out.push(...dedupeTexts(readDavidson(davidson)));
  if (fs.existsSync(toxigen)) out.push(...dedupeTexts(readToxigen(toxigen)));
  return out;
}

const TOXIC_LABELS = new Set(['1', 'toxic', 'true', 'yes', 'hate', 'offensive', 'abusive', 'positive']);
const NEUTRAL_LABELS = new Set(['0', 'neutral', 'false', 'no', 'nothate', 'not_hate', 'none', 'neither', 'clean', 'negative']);

/** Options of {@link loadLabelledCsv}. */
interface LabelledCsvOptions {
  textColumn: string;
  labelColumn: string;
  /** The `source` of its rows (default: the file's base name without extension). */
  source?: string;
}

/**
 * A user's CSV (header row; `,`, or tab for `.tsv`): a text column and a label column whose values are 0/1 or a
 * name (toxic, hate, offensive, 1, true / neutral, nothate, 0, false, …; case-insensitive). De-duplicated.
 */
export function loadLabelledCsv(file: string, o: LabelledCsvOptions): LabelledText[] {
  const rows = parseCsvFile(file);
  if (rows.length === 0) throw new InputError(`--data ${file}: no rows after the header`);
  const columns = Object.keys(rows[0]!);
  for (const [flag, column] of [
    ['--text-column', o.textColumn],
    ['--label-column', o.labelColumn],
  ] as const) {
    if (!columns.includes(column)) {
      throw new InputError(`${flag} "${column}": no such column in ${file}; its columns: ${columns.join(', ')}`);
    }
  }
  const source = o.source ?? path.basename(file).replace(/\.[^.]*$/, '');
  const out: LabelledText[] = [];
  rows.forEach((row, i) => {
    const value = (row[o.labelColumn] ?? '').trim().toLowerCase();
    const label = TOXIC_LABELS.has(value) ? 1 : NEUTRAL_LABELS.has(value) ? 0 : null;
    if (label === null) {
      throw new InputError(
        `${file}: line ${i + 2}: ${o.labelColumn} "${row[o.labelColumn]}" is not a label; use 1/0, toxic/neutral, true/false (or hate/nothate, offensive/none)`,
      );
    }
    const text = normaliseText(row[o.textColumn] ?? '');
    if (text) out.push({ text, label, source });
  });
  return dedupeTexts(out);
}

/** Rows and toxic share per source, for reports: `davidson 24,000 (77.3% toxic)`. */
export function describeCounts(items: readonly LabelledText[]): { source: string; n: number; toxic: number }[] {
  const by = new Map<string, { source: string; n: number; toxic: number }>();
  for (const item of items) {
    const c = by.get(item.source) ?? { source: item.source, n: 0, toxic: 0 };
    c.n++;
    c.toxic += item.label;
    by.set(item.source, c);
  }
  return [...by.values()];
}

function parseCsvFile(file: string): Record<string, string>[] {
  if (!fs.existsSync(file)) throw new InputError(`${file}: no such file`);
  try {
    return parse(fs.readFileSync(file), {
      columns: true,
      bom: true,
      delimiter: /\.tsv$/i.test(file) ? '\t' : ',',
      skip_empty_lines: true,
      relax_quotes: true,
    }) as Record<string, string>[];
  } catch (e) {
    throw new InputError(`${file}: not a readable CSV file (${(e as Error).message})`);
  }
}
