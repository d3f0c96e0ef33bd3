import path from 'node:path';
import { z } from 'zod';
import {
  definePlugin,
  buildSplits,
  readCsv,
  commonDatasetOptions,
  getField,
  isFieldPath,
  jsonType,
  readJsonl,
  describeReport,
  LoadReportBuilder,
  assertReadableFile,
  readTextLines,
  type Dataset,
  type DatasetSplits,
  type KeyedPrompt,
} from '../../core/index.js';

const NAME = 'prompt-file';
const WHO = `data.dataset (${NAME})`;
const FIELD = (o: string) => `data.dataset.${o}`;

/** File formats the plugin reads. */
const PROMPT_FILE_FORMATS = ['jsonl', 'csv', 'tsv', 'text'] as const;
type PromptFileFormat = (typeof PROMPT_FILE_FORMATS)[number];

/** Extension (after an optional `.gz`) → format, for `format: 'auto'`. */
const EXTENSIONS: Record<string, PromptFileFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.txt': 'text',
  '.text': 'text',
};

const options = z.object({
  path: z.string().min(1).describe('prompt file, relative to the project root (.jsonl, .ndjson, .csv, .tsv, .txt; optionally .gz)'),
  format: z
    .enum(['auto', ...PROMPT_FILE_FORMATS])
    .default('auto')
    .describe("'auto' picks the format from the file extension"),
  field: z
    .string()
    .refine(isFieldPath, 'must be a dotted path such as "text" or "prompt.text"')
    .optional()
    .describe('JSONL: the prompt\'s field, a dotted path (default "text")'),
  column: z.string().min(1).optional().describe('CSV/TSV: the prompt\'s column, by header name (default "text")'),
  idField: z
    .string()
    .min(1)
    .optional()
    .describe("JSONL field (dotted) or CSV column holding a stable id; it keys the 'hash' split instead of the text"),
  ...commonDatasetOptions('hash'),
});

type PromptFileOptions = z.output<typeof options>;

/**
 * `"dataset": { "type": "prompt-file", "path": "prompts.jsonl", "field": "prompt.text" }` — prompts
 * from a file of your own: JSON Lines (`field`, a dotted path, default `"text"`), CSV or TSV
 * with a header row (`column`, default `"text"`), or plain text with one prompt per line (kept
 * verbatim, blank lines dropped and counted). The format comes from the extension unless
 * `format` says otherwise; `.gz` files are read transparently.
 *
 * Split (default `'hash'`): a prompt's side depends on a seeded hash of its text (or of
 * `idField`), so reordering the file does not change it and duplicates never straddle the
 * split. Ids are `<file>:<line>` (or the `idField` value). Rows whose field is missing or not a
 * string follow `onBadRow`; empty prompts are dropped and counted.
 */
export default definePlugin({
  kind: 'dataset',
  name: NAME,
  description: 'prompts from a JSONL (dotted field), CSV/TSV (column) or text file (one per line)',
  options,
  create(opts, ctx): Dataset {
    const file = path.resolve(ctx.configDir, opts.path);
    assertReadableFile(file, { field: FIELD('path'), given: opts.path });
    const format = resolveFormat(file, opts);
    return {
      name: NAME,
      async load(): Promise<DatasetSplits> {
        const splits = await loadPromptFile(file, { ...opts, format });
        ctx.log(`${NAME}: ${describeReport(splits.report)}; train ${splits.train.length}, held-out ${splits.heldOut.length}`);
        return splits;
      },
    };
  },
});

/**
 * The format to read `file` with: `opts.format`, or from the extension when `'auto'`. Errors when
 * the extension is unknown, or when an option belongs to the other format (`column` for JSONL,
 * `field` for CSV, either for text).
 */
function resolveFormat(file: string, opts: Pick<PromptFileOptions, 'format' | 'field' | 'column' | 'idField'>): PromptFileFormat {
  let format: PromptFileFormat;
  if (opts.format === 'auto') {
    const base = file.toLowerCase().replace(/\.gz$/, '');
    const found = EXTENSIONS[path.extname(base)];
    if (!found) {
      throw new Error(
        `${FIELD('format')}: cannot tell the format of ${file} from its extension; known: ${Object.keys(EXTENSIONS).join(', ')} (optionally .gz); ` +
          `set format to one of ${PROMPT_FILE_FORMATS.join(', ')}`,
      );
    }
    format = found;
  } else {
    format = opts.format;
  }
  if (format === 'jsonl' && opts.column !== undefined) {
    throw new Error(`${FIELD('column')} applies to CSV/TSV files; ${file} is read as JSONL: use field (a dotted path) instead`);
  }
  if ((format === 'csv' || format === 'tsv') && opts.field !== undefined) {
    throw new Error(`${FIELD('field')} applies to JSONL files; ${file} is read as ${format.toUpperCase()}: use column instead`);
  }
  if (format === 'text' && (opts.field !== undefined || opts.column !== undefined || opts.idField !== undefined)) {
    throw new Error(`${FIELD('field')}/column/idField do not apply to text files (one prompt per line): ${file}`);
  }
  return format;
}

/** Reads and splits a prompt file in a known format (what the plugin's `load()` does). */
async function loadPromptFile(
  file: string,
  opts: Omit<PromptFileOptions, 'format'> & { format: PromptFileFormat },
): Promise<DatasetSplits> {
  const report = new LoadReportBuilder(file, opts.onBadRow);
  const kept: KeyedPrompt[] = [];
  const origin = { field: FIELD('path'), given: opts.path };
  const base = path.basename(file);
  /** Adds one prompt; false once `limit` is reached. */
  const add = (line: number, text: string, id: string | undefined): boolean => {
    if (text.trim() === '') {
      report.filtered('empty text');
      return true;
    }
    report.keep();
    kept.push({ record: { text, id: id ?? `${base}:${line}`, meta: { line } }, splitKey: id ?? text });
    return opts.limit === null || kept.length < opts.limit;
  };

  let what: string;
  if (opts.format === 'jsonl') {
    const field = opts.field ?? 'text';
    what = `JSONL field "${field}"`;
    for await (const { line, value } of readJsonl(file, report, origin)) {
      const got = getField(value, field);
      if (!got.found) {
        report.bad(line, `missing ${field}`, got.at !== field ? `no "${got.at}"` : undefined);
        continue;
      }
      if (typeof got.value !== 'string') {
        report.bad(line, `${field} is not a string`, `got ${jsonType(got.value)}`);
        continue;
      }
      let id: string | undefined;
      if (opts.idField !== undefined) {
        const idGot = getField(value, opts.idField);
        if (!idGot.found || (typeof idGot.value !== 'string' && typeof idGot.value !== 'number')) {
          report.bad(line, `missing or non-scalar ${opts.idField}`, 'idField is set');
          continue;
        }
        id = String(idGot.value);
      }
      if (!add(line, got.value, id)) break;
    }
  } else if (opts.format === 'csv' || opts.format === 'tsv') {
    const column = opts.column ?? 'text';
    what = `${opts.format.toUpperCase()} column "${column}"`;
    const required = [{ column, field: FIELD('column') }];
    if (opts.idField !== undefined) required.push({ column: opts.idField, field: FIELD('idField') });
    const delimiter = opts.format === 'tsv' ? '\t' : ',';
    for await (const { line, row } of readCsv(file, report, { delimiter, required }, origin)) {
      const id = opts.idField !== undefined ? row[opts.idField] : undefined;
      if (id !== undefined && id.trim() === '') {
        report.bad(line, `empty ${opts.idField}`, 'idField is set');
        continue;
      }
      if (!add(line, row[column]!, id)) break;
    }
  } else {
    what = 'text lines';
    for await (const { line, text } of readTextLines(file, report, origin)) {
      if (!add(line, text, undefined)) break;
    }
  }
  return buildSplits(kept, report, opts, {
    who: WHO,
    filter: `non-empty ${what}`,
    hint: `check ${opts.format === 'jsonl' ? 'field' : opts.format === 'text' ? 'the file' : 'column'} and the load report's problems`,
  });
}
