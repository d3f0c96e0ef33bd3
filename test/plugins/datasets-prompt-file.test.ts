import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import promptFile from '../../plugins/datasets/prompt-file.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { create } from '../../core/di/container.js';
import type { PluginContext } from '../../core/plugin/define.js';
import type { DatasetSplits } from '../../core/interfaces/dataset.js';

const ctx = (configDir: string): PluginContext => ({
  configDir,
  seed: 0,
  trainSteps: 1,
  backend: 'cpu',
  memoryPlan: defaultMemoryPlan(),
  log: () => {},
});
/** A temporary config folder holding the given files. */
function folder(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-prompts-'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}
const load = async (dir: string, options: Record<string, unknown>): Promise<DatasetSplits> =>
  (await promptFile.create(promptFile.options.parse(options), ctx(dir))).load();
const texts = (s: DatasetSplits) => [...s.train, ...s.heldOut].map((p) => p.text).sort();

const JSONL =
  [
    { id: 'a', prompt: { text: 'You are such a' } },
    { id: 'b', prompt: { text: 'The weather today is' } },
    { id: 'c', prompt: {} },
    { id: 'd', prompt: { text: ['not', 'a', 'string'] } },
    { id: 'e', prompt: { text: '' } },
    { id: 'f', prompt: { text: 'What a load of' } },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n') + '\n';

test('JSONL with a dotted field: missing and non-string fields are bad rows, empty prompts are counted', async (t) => {
  const s = await load(folder({ 'p.jsonl': JSONL }), { path: 'p.jsonl', field: 'prompt.text', heldOutFraction: 0 });
  t.deepEqual(
    s.train.map((p) => p.text),
    ['You are such a', 'The weather today is', 'What a load of'],
  );
  t.deepEqual(
    s.train.map((p) => p.id),
    ['p.jsonl:1', 'p.jsonl:2', 'p.jsonl:6'],
  );
  t.deepEqual(s.report.dropped, { 'missing prompt.text': 1, 'prompt.text is not a string': 1, 'empty text': 1 });
  t.is(s.report.read, 6);
  t.regex(s.report.problems[0]!, /p\.jsonl:3: missing prompt\.text$/);
  t.regex(s.report.problems[1]!, /p\.jsonl:4: prompt\.text is not a string: got array$/);
});

test('idField gives ids and keys the hash split', async (t) => {
  const s = await load(folder({ 'p.jsonl': JSONL }), { path: 'p.jsonl', field: 'prompt.text', idField: 'id', heldOutFraction: 0 });
  t.deepEqual(
    s.train.map((p) => p.id),
    ['a', 'b', 'f'],
  );
});

test('CSV by column (quoted commas and newlines), TSV, and gzipped text with one prompt per line', async (t) => {
  const dir = folder({
    'p.csv': 'id,prompt,label\n1,"Well, that was",0\n2,"Two\nlines",1\n3,,0\n',
    'p.tsv': 'prompt\tid\nTabbed, with comma\t1\n',
    'p.txt.gz': zlib.gzipSync(' leading space kept\n\nsecond line\n'),
  });
  const csv = await load(dir, { path: 'p.csv', column: 'prompt', heldOutFraction: 0 });
  t.deepEqual(
    csv.train.map((p) => p.text),
    ['Well, that was', 'Two\nlines'],
  );
  t.deepEqual(csv.report.dropped, { 'empty text': 1 });
  const tsv = await load(dir, { path: 'p.tsv', column: 'prompt', heldOutFraction: 0 });
  t.deepEqual(
    tsv.train.map((p) => p.text),
    ['Tabbed, with comma'],
  );
  const txt = await load(dir, { path: 'p.txt.gz', heldOutFraction: 0 });
  t.deepEqual(
    txt.train.map((p) => [p.id, p.text]),
    [
      ['p.txt.gz:1', ' leading space kept'],
      ['p.txt.gz:3', 'second line'],
    ],
  );
  t.deepEqual(txt.report.dropped, { 'blank line': 1 });
});

test('the format option overrides the extension; unknown extensions and misplaced options are errors', async (t) => {
  const dir = folder({ 'prompts.data': 'one\ntwo\n', 'p.jsonl': JSONL, 'p.csv': 'text\nx\n' });
  t.deepEqual(texts(await load(dir, { path: 'prompts.data', format: 'text', heldOutFraction: 0 })), ['one', 'two']);
  await t.throwsAsync(load(dir, { path: 'prompts.data' }), {
    message:
      /data\.dataset\.format: cannot tell the format of .*prompts\.data from its extension; known: \.jsonl, \.ndjson, \.csv, \.tsv, \.txt, \.text/,
  });
  await t.throwsAsync(load(dir, { path: 'p.jsonl', column: 'text' }), {
    message: /data\.dataset\.column applies to CSV\/TSV files; .* use field/,
  });
  await t.throwsAsync(load(dir, { path: 'p.csv', field: 'text' }), {
    message: /data\.dataset\.field applies to JSONL files; .* use column instead/,
  });
  await t.throwsAsync(load(dir, { path: 'p.csv', column: 'prompt' }), {
    message: /data\.dataset\.column: column "prompt" is not in the header of .*p\.csv; columns found: text/,
  });
  t.false(promptFile.options.safeParse({ path: 'p.jsonl', field: 'a..b' }).success);
});

test('hash split: about the fraction, disjoint, identical for a shuffled copy, duplicates together', async (t) => {
  const lines = Array.from({ length: 400 }, (_, i) => `prompt ${i} about something`);
  const withDupes = [...lines, ...lines.slice(0, 50)];
  const shuffled = [...withDupes].sort((a, b) => a.length - b.length || b.localeCompare(a));
  const dir = folder({ 'a.txt': withDupes.join('\n'), 'b.txt': shuffled.join('\n') });
  const a = await load(dir, { path: 'a.txt', heldOutFraction: 0.25, splitSeed: 9 });
  const b = await load(dir, { path: 'b.txt', heldOutFraction: 0.25, splitSeed: 9 });
  t.deepEqual(a.heldOut.map((p) => p.text).sort(), b.heldOut.map((p) => p.text).sort());
  const held = new Set(a.heldOut.map((p) => p.text));
  t.false(
    a.train.some((p) => held.has(p.text)),
    'no prompt text on both sides',
  );
  // Binomial(450, 0.25) has sd ≈ 9.2; duplicates move in pairs, so allow a wide band.
  t.true(a.heldOut.length > 80 && a.heldOut.length < 145, `held out ${a.heldOut.length}`);
});

test('limit keeps the first prompts in file order, then splits', async (t) => {
  const dir = folder({ 'a.txt': Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n') });
  const s = await load(dir, { path: 'a.txt', limit: 10, split: 'head', heldOutFraction: 0.2 });
  t.deepEqual(
    s.train.map((p) => p.text),
    ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7'],
  );
  t.deepEqual(
    s.heldOut.map((p) => p.text),
    ['line 8', 'line 9'],
  );
  t.is(s.report.read, 10);
});

test('a file with no usable prompt: the error names the field and the counts', async (t) => {
  const dir = folder({ 'p.jsonl': '{"prompt": "x"}\n{"prompt": "y"}\n' });
  const err = await t.throwsAsync(load(dir, { path: 'p.jsonl' }));
  t.regex(
    err!.message,
    /^data\.dataset \(prompt-file\): no prompts left in .*p\.jsonl after filtering \(non-empty JSONL field "text"\): read 2, kept 0; dropped: missing text 2; first problems: .*p\.jsonl:1: missing text/,
  );
});

test('built through the plugin registry from a config slot, like the trainer does', async (t) => {
  const dir = folder({ 'p.txt': 'alpha\nbeta\ngamma\n' });
  const registry = new PluginRegistry([promptFile]);
  const dataset = await create(registry, 'dataset', { type: 'prompt-file', path: 'p.txt', heldOutFraction: 0 }, ctx(dir));
  t.is(dataset.name, 'prompt-file');
  t.deepEqual(
    (await dataset.load()).train.map((p) => p.text),
    ['alpha', 'beta', 'gamma'],
  );
});
