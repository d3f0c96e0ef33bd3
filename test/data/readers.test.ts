import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { LoadReportBuilder, MAX_LISTED_PROBLEMS, describeReport } from '../../core/data/load-report.js';
import { readJsonl } from '../../core/data/jsonl-reader.js';
import { readCsv } from '../../core/data/csv-reader.js';
import { readTextLines } from '../../core/data/text-reader.js';
import { getField, isFieldPath } from '../../core/data/field-path.js';

/** Writes `content` to a fresh temporary file named `name` and returns its path. */
function tmpFile(name: string, content: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-data-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

async function collect<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

test('JSONL: rows keep their line numbers; malformed and blank lines are counted, never silent', async (t) => {
  const file = tmpFile('a.jsonl', '{"text":"one"}\n\n{"text": "two"\n{"text":"three"}\r\n');
  const report = new LoadReportBuilder(file);
  const rows = await collect(readJsonl(file, report));
  t.deepEqual(
    rows.map((r) => r.line),
    [1, 4],
  );
  t.deepEqual(
    rows.map((r) => (r.value as { text: string }).text),
    ['one', 'three'],
  );
  rows.forEach(() => report.keep());
  const built = report.build();
  t.is(built.read, 4);
  t.is(built.kept, 2);
  t.deepEqual(built.dropped, { 'blank line': 1, 'malformed JSON': 1 });
  t.is(built.problems.length, 1);
  t.true(built.problems[0]!.startsWith(`${file}:3: malformed JSON`), built.problems[0]);
  t.is(describeReport(built), 'read 4, kept 2; dropped: blank line 1, malformed JSON 1');
});

test("JSONL with onBadRow 'fail' stops at the first malformed line, naming file and line", async (t) => {
  const file = tmpFile('b.jsonl', '{"text":"one"}\n{oops}\n');
  const err = await t.throwsAsync(collect(readJsonl(file, new LoadReportBuilder(file, 'fail'))));
  t.regex(err!.message, /b\.jsonl:2: malformed JSON/);
  t.regex(err!.message, /onBadRow is 'fail'/);
});

test('a gzipped JSONL file and a byte-order mark are read transparently', async (t) => {
  const file = tmpFile('c.jsonl.gz', zlib.gzipSync('\uFEFF{"text":"é"}\n{"text":"b"}\n'));
  const rows = await collect(readJsonl(file, new LoadReportBuilder(file)));
  t.deepEqual(
    rows.map((r) => (r.value as { text: string }).text),
    ['é', 'b'],
  );
});

test('a missing file is an error naming the path and the config field', async (t) => {
  const file = path.join(os.tmpdir(), 'detox-lab-no-such-dir', 'prompts.jsonl');
  const err = await t.throwsAsync(
    collect(readJsonl(file, new LoadReportBuilder(file), { field: 'data.dataset.path', given: 'prompts.jsonl' })),
  );
  t.is(err!.message, `data.dataset.path: data file not found: ${file} (given as "prompts.jsonl")`);
});

test('CSV: by column name, multi-line quoted cells, bad records reported with their line', async (t) => {
  const file = tmpFile(
    'p.csv',
    'id,text,score\n1,hello world,0.5\n2,"multi\nline, with comma",0.7\n3,bad "quote,0.1\n4,too,many,cells\n\n5,fine,0.2\n',
  );
  const report = new LoadReportBuilder(file);
  const rows = await collect(readCsv(file, report, { required: [{ column: 'text', field: 'data.dataset.column' }] }));
  t.deepEqual(
    rows.map((r) => [r.line, r.row.text]),
    [
      [2, 'hello world'],
      [4, 'multi\nline, with comma'],
      [8, 'fine'],
    ],
  );
  const built = report.build();
  t.is(built.read, 6);
  t.deepEqual(built.dropped, { 'malformed CSV': 1, 'wrong number of CSV cells': 1, 'blank line': 1 });
  t.true(
    built.problems.some((p) => p.startsWith(`${file}:5: malformed CSV`)),
    built.problems.join('\n'),
  );
  t.true(
    built.problems.some((p) => p.startsWith(`${file}:6: wrong number of CSV cells: expected 3`)),
    built.problems.join('\n'),
  );
});

test('CSV: a missing column names the column, the config field and the columns found', async (t) => {
  const file = tmpFile('q.csv', 'id,prompt\n1,hi\n');
  const err = await t.throwsAsync(
    collect(readCsv(file, new LoadReportBuilder(file), { required: [{ column: 'text', field: 'data.dataset.column' }] })),
  );
  t.is(err!.message, `data.dataset.column: column "text" is not in the header of ${file}; columns found: id, prompt`);
});

test('TSV through the delimiter option', async (t) => {
  const file = tmpFile('r.tsv', 'text\tlabel\nfirst, with comma\t1\nsecond\t0\n');
  const rows = await collect(readCsv(file, new LoadReportBuilder(file), { delimiter: '\t' }));
  t.deepEqual(
    rows.map((r) => r.row.text),
    ['first, with comma', 'second'],
  );
});

test('text lines are kept verbatim (leading spaces too); blank lines are counted', async (t) => {
  const file = tmpFile('s.txt', 'First prompt\n   \n  indented prompt\r\nlast');
  const report = new LoadReportBuilder(file);
  const rows = await collect(readTextLines(file, report));
  t.deepEqual(rows, [
    { line: 1, text: 'First prompt' },
    { line: 3, text: '  indented prompt' },
    { line: 4, text: 'last' },
  ]);
  t.deepEqual(report.build().dropped, { 'blank line': 1 });
});

test('the report lists at most MAX_LISTED_PROBLEMS problems and says how many more there were', (t) => {
  const report = new LoadReportBuilder('f.jsonl');
  for (let i = 1; i <= MAX_LISTED_PROBLEMS + 5; i++) {
    report.row();
    report.bad(i, 'missing text');
  }
  const built = report.build();
  t.is(built.dropped['missing text'], MAX_LISTED_PROBLEMS + 5);
  t.is(built.problems.length, MAX_LISTED_PROBLEMS + 1);
  t.is(built.problems.at(-1), '... and 5 more problem(s) not listed');
});

test('dotted field paths reach nested objects and array items; null is found, absent is not', (t) => {
  const v = { prompt: { text: 'hi', toxicity: null }, messages: [{ content: 'a' }, { content: 'b' }] };
  t.deepEqual(getField(v, 'prompt.text'), { found: true, value: 'hi' });
  t.deepEqual(getField(v, 'prompt.toxicity'), { found: true, value: null });
  t.deepEqual(getField(v, 'messages.1.content'), { found: true, value: 'b' });
  t.deepEqual(getField(v, 'messages.2.content'), { found: false, at: 'messages.2' });
  t.deepEqual(getField(v, 'prompt.missing.deeper'), { found: false, at: 'prompt.missing' });
  t.deepEqual(getField('plain', 'text'), { found: false, at: 'text' });
  t.true(isFieldPath('a.b.0'));
  t.false(isFieldPath('a..b'));
  t.false(isFieldPath(''));
});
