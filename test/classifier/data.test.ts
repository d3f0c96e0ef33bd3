import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import {
  dedupeWithCounts,
  describeCounts,
  loadLabelledCsv,
  loadToxicityLabels,
  normaliseText,
  readToxigen,
  splitByHash,
  textKey,
  type LabelledText,
} from '../../core/classifier/data.js';
import { InputError } from '../../core/errors.js';
import { ROOT, tmpProject } from '../helpers/tmp.js';

/** The labelled data shipped beside the project (../shared/data/toxicity-labels; CI lays it out the same way). */
const LABELS = path.resolve(ROOT, '..', 'shared', 'data', 'toxicity-labels');

test('normaliseText: entities, mentions, URLs, retweet marker, whitespace', (t) => {
  t.is(normaliseText('RT @bob: you &amp; me &#8220;now&#8221;  http://t.co/xyz ok'), 'you & me \u201cnow\u201d http ok');
  t.is(normaliseText('  hey @someone_1 &lt;3\n\tthere '), 'hey @user <3 there');
  t.is(normaliseText('&bogus; stays'), '&bogus; stays');
  t.is(normaliseText('RT @a: RT @b: text'), 'text');
  t.is(normaliseText('  \n '), '');
  t.is(textKey('Hello   WORLD'), 'hello world');
});

test('dedupe keeps the first of equal texts and drops texts seen with both labels', (t) => {
  const items: LabelledText[] = [
    { text: 'a b', label: 1, source: 's' },
    { text: 'A  B', label: 1, source: 's' },
    { text: 'c', label: 0, source: 's' },
    { text: 'C', label: 1, source: 's' },
    { text: 'd', label: 0, source: 's' },
  ];
  const { items: out, duplicates, conflicts } = dedupeWithCounts(items);
  t.deepEqual(
    out.map((x) => x.text),
    ['a b', 'd'],
  );
  t.is(duplicates, 2);
  t.is(conflicts, 1);
});

test('split by text hash: stable, disjoint, near the fraction, case-insensitive key', (t) => {
  const items: LabelledText[] = Array.from({ length: 3000 }, (_, i) => ({ text: `statement ${i}`, label: (i % 2) as 0 | 1, source: 's' }));
  const a = splitByHash(items, 0.1);
  const b = splitByHash([...items].reverse(), 0.1);
  t.deepEqual(b.validation.map((x) => x.text).sort(), a.validation.map((x) => x.text).sort());
  t.is(a.train.length + a.validation.length, items.length);
  // Binomial(3000, 0.1): sd ≈ 16.4.
  t.true(Math.abs(a.validation.length - 300) < 60, `validation ${a.validation.length}`);
  const upper = splitByHash(
    items.map((x) => ({ ...x, text: x.text.toUpperCase() })),
    0.1,
  );
  t.deepEqual(
    upper.validation.map((x) => x.text.toLowerCase()),
    a.validation.map((x) => x.text),
  );
  for (const bad of [0, 1, -0.5, NaN]) {
    const e = t.throws(() => splitByHash(items, bad), { instanceOf: InputError });
    t.regex(e!.message, /between 0 and 1/);
  }
});

test('ToxiGen files: statements split on the literal \\n, label and group from the file name', (t) => {
  const dir = tmpProject({
    'hate_women_1k.txt': '- women are bad at x\\n- they should not y\\n-\n- women are bad at x\\n',
    'neutral_women_1k.txt': '- women lead companies\\n- a woman won\n',
    'README.md': 'ignored',
  });
  const rows = readToxigen(dir);
  t.deepEqual(
    rows.map((r) => [r.text, r.label, r.group]),
    [
      ['women are bad at x', 1, 'women'],
      ['they should not y', 1, 'women'],
      ['women are bad at x', 1, 'women'],
      ['women lead companies', 0, 'women'],
      ['a woman won', 0, 'women'],
    ],
  );
  t.throws(() => readToxigen(path.join(dir, 'nope')), { instanceOf: InputError, message: /no such folder/ });
});

test('user CSV: label names, errors name the flag, the value and what is allowed', (t) => {
  const dir = tmpProject({
    'mine.csv': 'comment,is_toxic\n"you idiot",toxic\nhello there,0\nHELLO   there,0\n"nice, really",False\n',
    'bad.csv': 'comment,is_toxic\nx,maybe\n',
  });
  const rows = loadLabelledCsv(path.join(dir, 'mine.csv'), { textColumn: 'comment', labelColumn: 'is_toxic' });
  t.deepEqual(
    rows.map((r) => [r.text, r.label, r.source]),
    [
      ['you idiot', 1, 'mine'],
      ['hello there', 0, 'mine'],
      ['nice, really', 0, 'mine'],
    ],
  );
  const col = t.throws(() => loadLabelledCsv(path.join(dir, 'mine.csv'), { textColumn: 'text', labelColumn: 'is_toxic' }), {
    instanceOf: InputError,
  });
  t.regex(col!.message, /--text-column "text": no such column .*its columns: comment, is_toxic/);
  const label = t.throws(() => loadLabelledCsv(path.join(dir, 'bad.csv'), { textColumn: 'comment', labelColumn: 'is_toxic' }), {
    instanceOf: InputError,
  });
  t.regex(label!.message, /line 2: is_toxic "maybe" is not a label; use 1\/0, toxic\/neutral/);
  t.throws(() => loadLabelledCsv(path.join(dir, 'missing.csv'), { textColumn: 'a', labelColumn: 'b' }), { message: /no such file/ });
});

test('the shipped labels: both sources, de-duplicated, every ToxiGen group with both labels', (t) => {
  t.true(fs.existsSync(LABELS), `labelled data expected at ${LABELS}`);
  const rows = loadToxicityLabels(LABELS);
  const counts = Object.fromEntries(describeCounts(rows).map((c) => [c.source, c]));
  // Davidson: 24,783 tweets, 4,163 "neither"; a few collapse once mentions and URLs are normalised.
  t.true(counts['davidson']!.n > 24_000 && counts['davidson']!.n <= 24_783, `davidson ${counts['davidson']!.n}`);
  t.true(counts['davidson']!.n - counts['davidson']!.toxic > 4_000, 'neutral tweets');
  // ToxiGen: 31,000 lines, but only 668 distinct statements once split and de-duplicated.
  t.true(counts['toxigen']!.n > 600 && counts['toxigen']!.n < 1_000, `toxigen ${counts['toxigen']!.n}`);
  const keys = new Set<string>();
  for (const r of rows.filter((x) => x.source === 'toxigen')) {
    const key = textKey(r.text);
    t.false(keys.has(key), `duplicate ${r.text}`);
    keys.add(key);
  }
  const groups = new Map<string, Set<number>>();
  for (const r of rows) if (r.group) groups.set(r.group, (groups.get(r.group) ?? new Set()).add(r.label));
  // 16 files of hate, 15 of neutral statements (none for "trans"); every "trans" statement also appears in the
  // "lgbtq" file, read first, so de-duplication leaves 15 groups.
  t.is(groups.size, 15);
  t.false(groups.has('trans'));
  for (const [group, labels] of groups) t.is(labels.size, 2, `group ${group} has both labels`);
  const missing = t.throws(() => loadToxicityLabels(path.join(LABELS, 'nope')), { instanceOf: InputError });
  t.regex(missing!.message, /has neither davidson-labeled_data\.csv nor toxigen-prompts/);
});

test('ToxiGen keeps a larger validation share by default; per-source fractions can be set', (t) => {
  const items: LabelledText[] = Array.from({ length: 4000 }, (_, i) => ({
    text: `s ${i}`,
    label: 0,
    source: i % 2 ? 'toxigen' : 'davidson',
  }));
  const { validation } = splitByHash(items, 0.1);
  const share = (source: string): number => validation.filter((x) => x.source === source).length / 2000;
  t.true(Math.abs(share('davidson') - 0.1) < 0.03, `davidson ${share('davidson')}`);
  t.true(Math.abs(share('toxigen') - 0.3) < 0.04, `toxigen ${share('toxigen')}`);
  const even = splitByHash(items, 0.1, {});
  t.true(Math.abs(even.validation.filter((x) => x.source === 'toxigen').length / 2000 - 0.1) < 0.03);
  t.throws(() => splitByHash(items, 0.1, { toxigen: 1.5 }), { message: /validation fraction of toxigen: 1.5 is not allowed/ });
});
