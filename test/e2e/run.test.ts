import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readEventFile, readScalars } from '../../core/logging/tfevents.js';
import { readSafetensors } from '../../core/model/io/safetensors.js';
import { ROOT } from '../helpers/tmp.js';
import { interruptRun, tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const TRL_TAGS = [
  'env/reward_mean',
  'env/reward_std',
  'objective/kl',
  'objective/kl_coef',
  'objective/entropy',
  'ppo/loss/policy',
  'ppo/loss/value',
  'ppo/loss/total',
  'ppo/policy/entropy',
  'ppo/policy/approxkl',
  'ppo/policy/policykl',
  'ppo/policy/clipfrac',
  'ppo/policy/advantages_mean',
  'ppo/returns/mean',
  'ppo/returns/var',
  'ppo/val/vpred',
  'ppo/val/error',
  'ppo/val/clipfrac',
  'ppo/val/mean',
  'ppo/val/var',
  'ppo/val/var_explained',
  'ppo/learning_rate',
  'ppo/mean_non_score_reward',
  'ppo/mean_scores',
  'ppo/std_scores',
  'tokens/queries_len_mean',
  'tokens/responses_len_mean',
  'time/ppo/total',
  'time/ppo/forward_pass',
  'time/ppo/optimize_step',
];

test('detox-lab run trains a tiny policy end to end and writes every artefact', async (t) => {
  // A cross-check classifier (eval.classifiers) scores the same continuations as the reward model.
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { eval: { maxNewTokens: 6, batchSize: 4, classifiers: [{ type: 'lexicon-toxicity' }] } }),
  );
  const r = cli(dir, 'run');
  t.is(r.code, 0, r.stderr);
  const run = path.join(dir, 'runs/tiny/main');
  const resolved = JSON.parse(fs.readFileSync(path.join(run, 'resolved-config.json'), 'utf8'));
  t.is(resolved.ppo.batchSize, 4);
  t.is(resolved.ppo.lam, 0.95);
  const samples = fs
    .readFileSync(path.join(run, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(samples.length, 3 * 4);
  t.deepEqual(Object.keys(samples[0]).sort(), ['prompt', 'response', 'reward', 'score', 'step', 'toxicity']);
  const scalars = readScalars(run);
  for (const tag of TRL_TAGS) t.true(scalars.has(tag), `missing TensorBoard tag ${tag}`);
  t.deepEqual(
    scalars.get('objective/kl')!.map((p) => p.step),
    [1, 2, 3],
  );
  t.deepEqual(
    scalars.get('eval/toxicity_mean')!.map((p) => p.step),
    [0, 3],
  );
  const events = fs.readdirSync(run).filter((f) => f.startsWith('events.out.tfevents.'));
  t.is(events.length, 1);
  const kinds = readEventFile(path.join(run, events[0]!)).flatMap((e) => e.summary?.value ?? []);
  t.true(
    kinds.some((v) => v.tag === 'samples' && v.tensor),
    'sample generations logged as text',
  );
  t.true(
    kinds.some((v) => v.tag === 'env/reward_dist' && v.histo),
    'reward histogram logged',
  );
  const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
  t.is(summary.status, 'done');
  t.is(summary.step, 3);
  t.true(summary.evalBefore.toxicity.n > 0 && summary.evalAfter.toxicity.n > 0);
  t.true(Math.abs(summary.evalBefore.toxicity.mean - scalars.get('eval/toxicity_mean')![0]!.value) < 1e-6);
  for (const step of ['step-2', 'step-3']) {
    const ck = path.join(run, 'checkpoints', step);
    for (const f of [
      'trainer-state.json',
      'optimiser.safetensors',
      'policy/config.json',
      'policy/model.safetensors',
      'policy/value_head.safetensors',
      'policy/tokenizer.json',
    ]) {
      t.true(fs.existsSync(path.join(ck, f)), `${step}/${f}`);
    }
  }
  t.regex(r.stdout, /\| toxicity \(mean\) \| \d\.\d{4} ± \d\.\d{4} \| \d\.\d{4} ± \d\.\d{4} \|/);
  t.regex(r.stdout, /\| toxicity by lexicon-toxicity \(cross-check\) \| \d\.\d{4} ± \d\.\d{4} \| \d\.\d{4} ± \d\.\d{4} \|/);
  for (const e of [summary.evalBefore, summary.evalAfter]) {
    t.is(e.crossCheck.length, 1);
    t.is(e.crossCheck[0].classifier, 'lexicon-toxicity');
    t.is(e.crossCheck[0].toxicity.n, e.toxicity.n);
  }
  t.deepEqual(
    scalars.get('eval/toxicity_mean/lexicon-toxicity')!.map((p) => [p.step, Math.fround(p.value)]),
    [
      [0, Math.fround(summary.evalBefore.crossCheck[0].toxicity.mean)],
      [3, Math.fround(summary.evalAfter.crossCheck[0].toxicity.mean)],
    ],
  );
  t.false(
    fs.readdirSync(path.join(run, 'checkpoints')).some((d) => d.startsWith('.tmp')),
    'no temporary checkpoint left',
  );
});

test('a resumed run equals an uninterrupted one, step for step', async (t) => {
  const over = {
    train: { steps: 4, checkpointEvery: 2, sampleEvery: 1, progress: false },
    eval: { enabled: false, maxNewTokens: 6, batchSize: 4 },
  };
  const a = await tinyProject((p) => tinyExperiment(p, over));
  t.is(cli(a, 'run').code, 0);
  const b = await tinyProject((p) => tinyExperiment(p, over));
  t.is(cli(b, 'run', '--set', 'train.steps=2').code, 0);
  const r = cli(b, 'run', '--resume', 'runs/tiny/main', '--set', 'train.steps=4');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /resumed from .*step-2 at step 2/);
  const weights = async (dir: string) => readSafetensors(path.join(dir, 'runs/tiny/main/checkpoints/step-4/policy/model.safetensors'));
  const wa = await weights(a);
  const wb = await weights(b);
  t.deepEqual([...wa.keys()], [...wb.keys()]);
  for (const [k, v] of wa) t.deepEqual(Array.from(v.data), Array.from(wb.get(k)!.data), k);
  const lines = (dir: string) => fs.readFileSync(path.join(dir, 'runs/tiny/main/samples.jsonl'), 'utf8').trim().split('\n');
  t.deepEqual(lines(b), lines(a));
  const kl = (dir: string) =>
    readScalars(path.join(dir, 'runs/tiny/main'))
      .get('objective/kl')!
      .map((p) => [p.step, p.value]);
  t.deepEqual(kl(b), kl(a));
});

test('bad input: clear one-line errors and exit code 2 before any work', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { reward: { model: { type: 'hf-classifier', path: p.classifier }, transform: { type: 'sigmoid' } } }),
  );
  const r1 = cli(dir, 'run');
  t.is(r1.code, 2);
  t.is(r1.stderr.trim().split('\n').length, 1);
  t.regex(r1.stderr, /config error: .*reward\.transform\.type: unknown reward-transform plugin "sigmoid"; known: log, raw-logit, softmax/);
  t.false(fs.existsSync(path.join(dir, 'runs')), 'nothing written for an invalid config');

  const r2 = cli(dir, 'run', '--set', 'reward.transform.type=raw-logit', '--set', 'data.dataset.path=missing.txt');
  t.is(r2.code, 2);
  t.regex(r2.stderr, /data\.dataset\.path.*missing\.txt/);

  const r3 = cli(dir, 'run', '--set', 'reward.transform.type=raw-logit', '--set', 'ppo.batchSize=5');
  t.is(r3.code, 2);
  t.regex(r3.stderr, /ppo\.batchSize: must be a multiple of miniBatchSize/);

  const r4 = cli(
    dir,
    'run',
    '--set',
    'reward.transform.type=raw-logit',
    '--set',
    'data.promptTokens=null',
    '--set',
    'generation.responseTokens=[60,63]',
  );
  t.is(r4.code, 2);
  t.regex(r4.stderr, /error: prompt .*prompts\.txt:\d+ has \d+ tokens, but the model's context \(64\) leaves room for 2/);
});

test('--help teaches: commands, options with defaults, exit codes', (t) => {
  const top = cli(ROOT, '--help');
  t.is(top.code, 0);
  t.regex(top.stdout, /run \[options\] \[experiment\]/);
  t.regex(top.stdout, /Exit codes: 0 done, 1 runtime failure, 2 bad usage, config or input \(data or model files\), 130 interrupted/);
  const run = cli(ROOT, 'run', '--help');
  t.regex(run.stdout, /ppo\.initKlCoef {2}number ≥ 0 {2}\(default 0\.2\) {2}— initial KL penalty coefficient/);
  t.regex(run.stdout, /--resume <run-folder>/);
  t.is(cli(ROOT, 'nonsense').code, 2);
  t.regex(cli(ROOT, '--version').stdout, /^\d+\.\d+\.\d+/);
});

test.serial('Ctrl-C saves a checkpoint, exits 130, and --resume finishes the run', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, {
      train: { steps: 200, checkpointEvery: 0, sampleEvery: 10, progress: false },
      eval: { enabled: false, maxNewTokens: 6, batchSize: 4 },
    }),
  );
  const { code, stderr } = await interruptRun(CLI, dir);
  t.is(code, 130, stderr);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'runs/tiny/main/summary.json'), 'utf8'));
  t.is(summary.status, 'interrupted');
  t.true(summary.step >= 1 && summary.step < 200, `stopped early at ${summary.step}`);
  t.true(fs.existsSync(path.join(dir, `runs/tiny/main/checkpoints/step-${summary.step}/trainer-state.json`)));
  const r = cli(dir, 'run', '--resume', 'runs/tiny/main', '--set', `train.steps=${summary.step + 1}`);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, new RegExp(`resumed from .*step-${summary.step} at step ${summary.step}`));
});
