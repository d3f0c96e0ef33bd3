/**
 * train-classifier on the tiny GPT-2 classifier fixture (used as the causal LM base: its score head is ignored and a
 * new one is seeded) and small in-test datasets: a few steps write a folder hf-classifier loads; the loss falls on a
 * separable toy set; tensors do not accumulate across steps; Ctrl-C saves; bad flags and an existing --out exit 2.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../core/model/wasm/backend.js';
import { loadCausalLM } from '../../core/model/load.js';
import { loadTokenizer } from '../../core/model/io/tokenizer.js';
import { CausalSequenceClassifier } from '../../core/model/gpt2-classifier.js';
import { trainClassifierCommand } from '../../core/classifier/command.js';
import {
  classWeights,
  lengthBatches,
  sourceRepeats,
  trainClassifier,
  weightedCrossEntropy,
  type ClassifierHyperparameters,
} from '../../core/classifier/train.js';
import type { LabelledText } from '../../core/classifier/data.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import hfClassifier from '../../plugins/reward-models/hf-classifier.js';
import { Rng } from '../../core/util/rng.js';

const ROOT = process.cwd();
const BASE = path.resolve(ROOT, 'test/fixtures/gpt2-classifier');
const CLI = path.join(ROOT, 'bin', 'detox-lab.js');

/** A separable toy set: toxic texts say "awful"/"hate", neutral ones "lovely"/"thanks". */
function toy(n: number, source = 'toy'): LabelledText[] {
  const bad = ['you are awful', 'i hate this', 'awful awful', 'hate hate you', 'so awful and hateful'];
  const good = ['you are lovely', 'thanks a lot', 'lovely day', 'thanks friend', 'what a lovely thing'];
  const out: LabelledText[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ text: `${bad[i % bad.length]} ${i}`, label: 1, source });
    out.push({ text: `${good[i % good.length]} ${i}`, label: 0, source });
  }
  return out;
}

const HP: ClassifierHyperparameters = {
  epochs: 1,
  batchSize: 8,
  maxLength: 24,
  learningRate: 3e-3,
  warmupSteps: 0,
  weightDecay: 0,
  betas: [0.9, 0.999],
  maxGradNorm: 1,
  weighting: 'class',
  minSourceShare: 0,
  freezeEmbeddings: false,
  ema: 0,
  evalEvery: 0,
  patience: 0,
  seed: 0,
};

async function freshClassifier(): Promise<CausalSequenceClassifier> {
  const tokenizer = await loadTokenizer(BASE);
  const body = await loadCausalLM(BASE);
  return CausalSequenceClassifier.fromCausalLM(body, {
    labels: ['neutral', 'toxic'],
    padTokenId: tokenizer.padTokenId,
    seed: 0,
    tokenizer,
  });
}

const tmp = (name: string) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'detox-train-cls-')), name);

test.before(async () => {
  await initBackend('cpu');
});

test.serial('a 4-step run writes a Hugging Face folder that hf-classifier loads, with a parsable train.json', async (t) => {
  const out = tmp('cls');
  const runDir = tmp('run');
  const result = await trainClassifierCommand({
    outDir: out,
    base: BASE,
    labels: null,
    items: toy(16),
    validation: 0.3,
    ...HP,
    backend: null,
    runDir,
    progress: false,
    log: () => {},
  });
  t.is(result.status, 'completed');
  t.true(result.steps >= 3 && result.steps <= 5, `steps ${result.steps}`);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'train.json'])
    t.true(fs.existsSync(path.join(out, f)), f);
  t.true(fs.existsSync(path.join(runDir, 'checkpoints', 'best', 'model.safetensors')));
  t.true(fs.readdirSync(runDir).some((f) => f.startsWith('events.out.tfevents')));
  const info = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as Record<string, any>;
  t.is(info.hyperparameters.seed, 0);
  t.is(info.hyperparameters.maxLength, 24);
  t.is(info.data.train.toy.toxic + info.data.train.toy.neutral + info.data.validation.toy.toxic + info.data.validation.toy.neutral, 32);
  t.is(typeof info.validation.sources.find((s: { source: string }) => s.source === 'toy').auc, 'number');
  t.is(info.steps, result.steps);
  const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.deepEqual(config.architectures, ['GPT2ForSequenceClassification']);
  t.deepEqual(config.id2label, { 0: 'neutral', 1: 'toxic' });
  t.is(config.pad_token_id, 256);
  const ctx = {
    configDir: path.dirname(out),
    seed: 0,
    trainSteps: 1,
    backend: 'cpu' as const,
    memoryPlan: defaultMemoryPlan(),
    log: () => {},
  };
  const model = await hfClassifier.create(hfClassifier.options.parse({ path: path.basename(out), neutralLabel: 'neutral' }), ctx);
  try {
    const logits = await model.classify(['you are awful', 'what a lovely day']);
    t.is(logits.length, 2);
    t.true(logits.flat().every(Number.isFinite));
  } finally {
    model.dispose?.();
  }
});

test.serial('the loss falls on a separable toy set, and tensors stay flat across steps', async (t) => {
  const clf = await freshClassifier();
  const counts: number[] = [];
  try {
    const result = await trainClassifier({
      ...HP,
      epochs: 6,
      classifier: clf,
      tokenizer: clf.tokenizer!,
      train: toy(20),
      validation: toy(4, 'toy').map((x) => ({ ...x, text: `${x.text}!` })),
      outDir: tmp('toy'),
      onStep: () => counts.push(tf.memory().numTensors),
    });
    const first = result.losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const last = result.losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    t.true(last < first * 0.6, `loss ${first} → ${last}`);
    t.true(result.report !== undefined);
    // The optimisers create their moment variables on the first step; after that nothing may accumulate.
    t.true(counts.length >= 10);
    t.deepEqual(new Set(counts.slice(1)).size, 1, `tensors per step: ${counts.join(',')}`);
  } finally {
    clf.dispose();
  }
});

test.serial('with --ema the averaged weights are validated and saved, and tensors stay flat across steps', async (t) => {
  const clf = await freshClassifier();
  const counts: number[] = [];
  const out = tmp('ema');
  try {
    const before = await clf.snapshot();
    const result = await trainClassifier({
      ...HP,
      epochs: 2,
      ema: 0.9,
      classifier: clf,
      tokenizer: clf.tokenizer!,
      train: toy(12),
      validation: toy(3),
      outDir: out,
      onStep: () => counts.push(tf.memory().numTensors),
    });
    t.is(result.status, 'completed');
    t.deepEqual(new Set(counts.slice(1)).size, 1, `tensors per step: ${counts.join(',')}`);
    const after = await clf.snapshot(); // the classifier is left with the saved (best averaged) weights
    t.notDeepEqual(after[after.length - 1], before[before.length - 1]);
    const info = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as { hyperparameters: { ema: number } };
    t.is(info.hyperparameters.ema, 0.9);
  } finally {
    clf.dispose();
  }
});

test.serial('an abort (Ctrl-C) stops after the current step and saves the best weights, status interrupted', async (t) => {
  const clf = await freshClassifier();
  const ac = new AbortController();
  const out = tmp('interrupted');
  try {
    const result = await trainClassifier({
      ...HP,
      epochs: 3,
      classifier: clf,
      tokenizer: clf.tokenizer!,
      train: toy(20),
      validation: toy(3),
      outDir: out,
      signal: ac.signal,
      onStep: (step) => {
        if (step === 2) ac.abort();
      },
    });
    t.is(result.status, 'interrupted');
    t.is(result.steps, 2);
    const info = JSON.parse(fs.readFileSync(path.join(out, 'train.json'), 'utf8')) as { status: string };
    t.is(info.status, 'interrupted');
  } finally {
    clf.dispose();
  }
});

test('class weights balance the classes within each source; small sources are repeated to their share', (t) => {
  const items: LabelledText[] = [
    ...Array.from({ length: 6 }, (_, i) => ({ text: `a${i}`, label: 1 as const, source: 'big' })),
    ...Array.from({ length: 2 }, (_, i) => ({ text: `b${i}`, label: 0 as const, source: 'big' })),
    { text: 'c', label: 1, source: 'small' },
    { text: 'd', label: 0, source: 'small' },
  ];
  const w = classWeights(items);
  t.deepEqual(w.get('big'), [2, 8 / 12]);
  t.deepEqual(w.get('small'), [1, 1]);
  const r = sourceRepeats(
    new Map([
      ['big', 800],
      ['small', 20],
    ]),
    0.2,
  );
  t.is(r.get('big'), 1);
  t.is(r.get('small'), 10); // 20·10 / (200 + 800) = 0.2
  t.is(
    sourceRepeats(
      new Map([
        ['big', 800],
        ['small', 20],
      ]),
      0,
    ).get('small'),
    1,
  );
  const lengths = Array.from({ length: 100 }, (_, i) => (i * 37) % 50);
  const batches = lengthBatches(
    lengths,
    Array.from({ length: 100 }, (_, i) => i),
    10,
    new Rng(0),
  );
  t.is(batches.flat().length, 100);
  t.deepEqual([...new Set(batches.flat())].length, 100);
  for (const b of batches) t.true(Math.max(...b.map((i) => lengths[i]!)) - Math.min(...b.map((i) => lengths[i]!)) <= 6);
});

test("weighted cross-entropy equals torch's weighted mean", (t) => {
  const logits = tf.tensor2d([
    [1, 2],
    [0.5, -1],
    [3, 0],
  ]);
  const w = tf.tensor2d([
    [0, 2],
    [1, 0],
    [0, 0.5],
  ]); // targets 1, 0, 1 with weights 2, 1, 0.5
  const got = weightedCrossEntropy(logits, w).dataSync()[0]!;
  const ce = (z: number[], y: number) => Math.log(Math.exp(z[0]!) + Math.exp(z[1]!)) - z[y]!;
  const want = (2 * ce([1, 2], 1) + 1 * ce([0.5, -1], 0) + 0.5 * ce([3, 0], 1)) / 3.5;
  t.true(Math.abs(got - want) < 1e-6);
  tf.dispose([logits, w]);
});

const cli = (args: string[]) =>
  spawnSync(process.execPath, [CLI, 'train-classifier', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 50_000 });

test('bad flags exit 2 with a message naming the flag, the value and what is allowed', (t) => {
  const out = tmp('never');
  const cases: [string[], RegExp][] = [
    [['--out', out, '--epochs', '0'], /--epochs: expected an integer ≥ 1, got "0"/],
    [['--out', out, '--validation', '1.5'], /--validation: expected a fraction in \(0, 1\), got "1.5"/],
    [['--out', out, '--lr', 'fast'], /--lr: expected a number > 0, got "fast"/],
    [['--out', out, '--weighting', 'both'], /option '--weighting <kind>' argument 'both' is invalid. Allowed choices are class, none/],
    [['--out', out, '--source-share', '1'], /--source-share: expected a fraction in \[0, 1\), got "1"/],
    [['--out', out, '--labels', path.join(out, 'missing')], /--labels .*missing: no such folder/],
    [['--out', out, '--no-labels'], /--no-labels: give at least one --data/],
    [['--out', out, '--base', path.join(out, 'nothing')], /--base .*nothing: not a model folder/],
    [['--epochs', '1'], /required option '-o, --out <dir>' not specified/],
    [
      [
        '--out',
        out,
        '--max-length',
        '500',
        '--base',
        BASE,
        '--no-labels',
        '--data',
        path.join(ROOT, 'test/fixtures/gpt2-classifier/toy.csv'),
      ],
      /--data .*toy.csv: no such file/,
    ],
    [
      ['--out', out, '--max-length', '500', '--base', BASE],
      /--max-length must be an integer in \[1, 48\] \(the base model's n_positions is 48\), got 500/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
  }
  t.false(fs.existsSync(out));
});

test('an existing --out is refused unless --force, and --help teaches with an example', async (t) => {
  const out = tmp('mine');
  await fsp.mkdir(out);
  await fsp.writeFile(path.join(out, 'precious.txt'), 'keep me');
  const r = cli(['--out', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /--out .*mine: the folder exists; .* --force to replace it/);
  t.is(fs.readFileSync(path.join(out, 'precious.txt'), 'utf8'), 'keep me');
  const help = cli(['--help']);
  t.is(help.status, 0);
  t.regex(help.stdout, /detox-lab train-classifier --out models\/toxicity-gpt2 --seed 0/);
  t.regex(help.stdout, /"type": "hf-classifier", "path": "models\/toxicity-gpt2", "neutralLabel": "neutral"/);
});
