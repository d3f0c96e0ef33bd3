import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, fixture, tmpProject } from '../helpers/tmp.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A labelled CSV the word list separates perfectly, and one row it gets wrong. */
const CSV = [
  'comment,toxic',
  '"you are a stupid idiot",1',
  '"shut up you worthless moron",1',
  '"what a dumb bitch",1',
  '"fuck off loser",1',
  '"thanks for the help",0',
  '"the weather is nice today",0',
  '"see you at the meeting",0',
  '"great work on the report",0',
  '"people like you should not be allowed to vote",1',
].join('\n');

test('eval-classifier compares a model folder and a plugin on the same labelled texts; --json writes the reports', (t) => {
  const dir = tmpProject({ 'mine.csv': `${CSV}\n` });
  const r = cli(
    dir,
    'eval-classifier',
    'lexicon-toxicity',
    fixture('roberta'),
    '--data',
    'mine.csv',
    '--text-column',
    'comment',
    '--label-column',
    'toxic',
    '--split',
    'all',
    '--json',
    'out/report.json',
    '--backend',
    'cpu',
  );
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /all split: mine 9 \(55\.6% toxic\)/);
  // 4 of the 5 toxic rows carry listed words; the implicit one scores like the clean rows: AUC = (4·4 + 1·2)/20 = 0.9.
  t.regex(r.stdout, /^lexicon-toxicity\s+mine\s+9\s+55\.6%\s+0\.900\s+0\.889\s+0\.889$/m);
  t.regex(r.stdout, /^hf-classifier:roberta\s+mine\s+9\s+55\.6%\s+\d\.\d{3}/m);
  const report = JSON.parse(fs.readFileSync(path.join(dir, 'out/report.json'), 'utf8'));
  t.deepEqual(
    report.classifiers.map((c: { spec: string }) => c.spec),
    ['lexicon-toxicity', fixture('roberta')],
  );
  t.is(report.classifiers[0].report.sources[0].auc, 0.9);
  t.deepEqual(report.data, [{ source: 'mine', n: 9, toxic: 5 }]);
});

test('eval-classifier on the shipped labels: both sources and the group table', (t) => {
  const r = cli(ROOT, 'eval-classifier', '{"type": "lexicon-toxicity"}', '--backend', 'cpu');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^lexicon-toxicity\s+davidson\s+2,\d{3}\s+\d+\.\d%\s+0\.\d{3}/m);
  t.regex(r.stdout, /^lexicon-toxicity\s+toxigen\s+\d{3}\s+/m);
  t.regex(r.stdout, /^women\s+\d+\s+\d+\.\d%$/m);
  t.regex(r.stdout, /^max \/ mean\s+(\d+\.\d{2}x|—)$/m);
});

test('eval-classifier: a folder without a known neutral label says which labels it has and how to name one', (t) => {
  const dir = tmpProject({ 'weird/config.json': { id2label: { 0: 'a', 1: 'b' } } });
  const r = cli(dir, 'eval-classifier', 'weird', '--labels', 'nowhere');
  t.is(r.code, 2);
  t.regex(r.stderr, /classifier weird: none of its labels \(a, b\) names the non-toxic class .*"neutralLabel": "<label>"/);
  const missing = cli(dir, 'eval-classifier', 'lexicon-toxicity', '--labels', 'nowhere');
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--labels: labels folder .*nowhere: has neither davidson-labeled_data\.csv nor toxigen-prompts/);
});
