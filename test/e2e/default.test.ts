import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/tmp.js';

// The embedded default, shortened: the shipped policy, the built-in prompts, the shipped learned classifier as the
// reward with the lexicon classifier as the evaluation's cross-check, two PPO steps, evaluation on a few held-out prompts.
test('the embedded default runs end to end (shortened)', (t) => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-default-'));
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'bin/detox-lab.js'),
      'run',
      '--set',
      `runsDir=${JSON.stringify(runs)}`,
      '--set',
      'train.steps=2',
      '--set',
      'train.progress=false',
      '--set',
      'ppo.batchSize=8',
      '--set',
      'ppo.miniBatchSize=4',
      '--set',
      'ppo.ppoEpochs=1',
      '--set',
      'eval.maxPrompts=8',
      '--set',
      'eval.batchSize=8',
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  t.is(r.status, 0, r.stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(runs, 'default/main/summary.json'), 'utf8'));
  t.is(summary.status, 'done');
  t.is(summary.evalBefore.toxicity.n, 8);
  t.true(summary.evalBefore.toxicity.mean > 0 && summary.evalBefore.toxicity.mean < 1);
  t.true(summary.evalBefore.perplexity > 1);
  t.regex(r.stdout, /\| toxicity \(mean\) \|/);
  t.regex(r.stdout, /\| toxicity by lexicon-toxicity \(cross-check\) \|/);
  t.is(summary.evalBefore.crossCheck[0].classifier, 'lexicon-toxicity');
  t.regex(r.stderr, /arm "main"/);
  t.regex(r.stderr, /data: \d+ training and \d+ held-out prompts from npm text/);
});
