/**
 * Pretraining end to end on the wasm backend with a tiny GPT-2: the loss falls from ln V, the saved folder reloads
 * with identical logits, TensorBoard gets the curves, an AbortSignal stops and saves, runs are deterministic, tensors
 * do not leak, and pretrainCommand goes from corpus files to a folder.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../core/model/wasm/backend.js';
import { loadCausalLM } from '../../core/model/load.js';
import { loadTokenizer, tokenizerFromJson, type TokenizerJson } from '../../core/model/io/tokenizer.js';
import { readScalars } from '../../core/logging/tensorboard.js';
import { trainBpe } from '../../core/pretrain/bpe.js';
import { splitCorpus, TokenWindows, packLines } from '../../core/pretrain/corpus.js';
import { evaluateLoss } from '../../core/pretrain/lm-loss.js';
import { pretrain, type PretrainOptions } from '../../core/pretrain/pretrain.js';
import { pretrainCommand } from '../../core/pretrain/command.js';

const SUBJECTS = ['the cat', 'a dog', 'my friend', 'the old man', 'our teacher'];
const VERBS = ['likes', 'sees', 'hates', 'wants'];
const OBJECTS = ['green apples', 'the red ball', 'warm bread', 'loud music'];
/** 200 repetitive lines. */
const LINES = Array.from({ length: 200 }, (_, i) => `${SUBJECTS[i % 5]} ${VERBS[(i * 3) % 4]} ${OBJECTS[(i * 7 + (i >> 2)) % 4]}.`);

const bpe = trainBpe(LINES, { vocabSize: 300 });
const tokenizer = tokenizerFromJson(bpe.tokenizerJson as unknown as TokenizerJson);

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-test-'));

function options(outDir: string, extra: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    corpus: splitCorpus(LINES, { seed: 0, evalFraction: 0.1 }),
    tokenizer,
    model: { nLayers: 2, dModel: 32, nHeads: 2, context: 32 },
    steps: 30,
    batchSize: 8,
    seqLen: 32,
    learningRate: 1e-2,
    warmupSteps: 3,
    weightDecay: 0.01,
    betas: [0.9, 0.95],
    maxGradNorm: 1,
    seed: 0,
    evalEvery: 10,
    evalWindows: 8,
    samples: 1,
    sampleTokens: 8,
    saveEvery: 0,
    outDir,
    ...extra,
  };
}

test.before(async () => {
  await initBackend('wasm');
});

test.serial('30 steps on 200 repetitive lines cut the loss from ln V; the folder reloads with identical logits', async (t) => {
  const dir = tmp();
  const outDir = path.join(dir, 'model');
  const logDir = path.join(dir, 'tb');
  const before = tf.memory().numTensors;
  const perStep: number[] = [];
  const r = await pretrain(options(outDir, { logDir, keepModel: true, onStep: () => perStep.push(tf.memory().numTensors) }));
  t.is(new Set(perStep).size, 1, `tensor count flat over the steps (evaluations and samples included): ${[...new Set(perStep)]}`);
  const V = tokenizer.vocabSize;
  t.is(r.status, 'completed');
  t.is(r.steps, 30);
  t.is(r.tokens, 30 * 8 * 32);
  t.is(r.losses.length, 30);
  // A near-zero initialisation predicts uniformly: the first loss is ln V.
  t.true(Math.abs(r.firstLoss - Math.log(V)) < 0.05, `first loss ${r.firstLoss} vs ln ${V} = ${Math.log(V)}`);
  // Measured: mean of the last 20 losses 2.75, last loss 2.42, held-out loss 2.47 (from ln 300 = 5.70).
  t.true(r.recentLoss < Math.log(V) - 2.5, `mean of the last 20 losses ${r.recentLoss}`);
  t.true(r.lastLoss < 2.6, `last loss ${r.lastLoss}`);
  t.true(r.eval.loss < 2.7, `held-out loss ${r.eval.loss}`);
  t.true(r.losses.slice(1).every((l) => l < r.losses[0]! + 1e-3) && r.losses[29]! < r.losses[9]! && r.losses[9]! < r.losses[2]!);
  t.is(r.eval.perplexity, Math.exp(r.eval.loss));
  t.is(r.parameters, 300 * 32 + 32 * 32 + 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32);
  t.is(r.samples.length, 1);

  // Reload: same config, same tokenizer, bit-identical logits and held-out loss.
  // The engine's loader leaves the tensors it uploads the weights from; the scope releases them.
  tf.engine().startScope();
  const loaded = await loadCausalLM(outDir);
  tf.engine().endScope();
  const tok = await loadTokenizer(outDir);
  t.deepEqual(tok.encode(LINES[3]!), tokenizer.encode(LINES[3]!));
  t.is(tok.eosTokenId, tokenizer.eosTokenId);
  t.is(tok.modelMaxLength, 32);
  t.is(loaded.config.vocabSize, V);
  t.is(loaded.config.eosTokenId, V - 1);
  t.is(loaded.config.nPositions, 32);
  const ids = tf.tensor2d([tokenizer.encode('the cat likes warm bread. a dog sees')], undefined, 'int32'); // [1, T]
  const mask = tf.onesLike(ids) as tf.Tensor2D; // [1, T]
  const a = r.model!.forward(ids as tf.Tensor2D, mask);
  const b = loaded.forward(ids as tf.Tensor2D, mask);
  t.deepEqual(Array.from(await b.logits.data()), Array.from(await a.logits.data()));
  const heldOut = new TokenWindows(
    packLines(options(outDir).corpus.heldOut, (s) => tokenizer.encode(s), tokenizer.eosTokenId),
    32,
    0,
  );
  t.is((await evaluateLoss(loaded, heldOut, 8, 8)).loss, r.eval.loss);
  tf.dispose([ids, mask, a.logits, a.values, b.logits, b.values]);
  loaded.dispose();
  r.model!.dispose();
  t.is(tf.memory().numTensors, before, 'no tensor outlives the run');

  const info = JSON.parse(fs.readFileSync(path.join(outDir, 'pretrain.json'), 'utf8'));
  t.is(info.status, 'completed');
  t.is(info.steps, 30);
  t.is(info.hyperparameters.learningRate, 1e-2);
  t.deepEqual(fs.readdirSync(outDir).sort(), [
    'config.json',
    'model.safetensors',
    'pretrain.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'value_head.safetensors',
  ]);
  t.deepEqual(fs.readdirSync(dir).sort(), ['model', 'tb'], 'no staging folder is left behind');

  const curves = readScalars(logDir);
  t.deepEqual(
    curves.get('train/loss')!.map((p) => p.value),
    r.losses.map((x) => Math.fround(x)),
  );
  t.deepEqual(
    curves.get('eval/loss')!.map((p) => p.step),
    [10, 20, 30],
  );
  const lr = curves.get('train/lr')!.map((p) => p.value);
  t.is(lr[0], 0); // warm-up starts at 0
  t.is(lr[3], Math.fround(1e-2)); // peak after 3 warm-up steps
  t.true(lr[29]! < 1e-4); // cosine decay towards 0
  t.true(curves.get('train/tokens_per_s')!.every((p) => p.value > 0));
  fs.rmSync(dir, { recursive: true });
});

test.serial('an AbortSignal stops after the current step and saves; runs are deterministic', async (t) => {
  const dir = tmp();
  const outDir = path.join(dir, 'model');
  const controller = new AbortController();
  const before = tf.memory().numTensors;
  const r = await pretrain(
    options(outDir, {
      signal: controller.signal,
      evalEvery: 0,
      samples: 0,
      onStep: (step) => {
        if (step === 4) controller.abort();
      },
    }),
  );
  t.is(r.status, 'interrupted');
  t.is(r.steps, 4);
  t.is(tf.memory().numTensors, before);
  const info = JSON.parse(fs.readFileSync(path.join(outDir, 'pretrain.json'), 'utf8'));
  t.is(info.status, 'interrupted');
  t.is(info.steps, 4);
  const loaded = await loadCausalLM(outDir);
  t.true(
    Number.isFinite(
      (
        await evaluateLoss(
          loaded,
          new TokenWindows(
            packLines(LINES.slice(0, 20), (s) => tokenizer.encode(s), tokenizer.eosTokenId),
            32,
            0,
          ),
          8,
        )
      ).loss,
    ),
  );
  loaded.dispose();

  // Same seed and settings: the first steps repeat exactly (evaluation and sampling do not disturb training).
  const stop = new AbortController();
  const again = await pretrain(
    options(path.join(dir, 'again'), {
      signal: stop.signal,
      evalEvery: 2,
      samples: 2,
      onStep: (s) => {
        if (s === 4) stop.abort();
      },
    }),
  );
  t.deepEqual(again.losses, r.losses);
  const other = await pretrain(options(path.join(dir, 'other'), { seed: 1, evalEvery: 0, samples: 0, signal: controller.signal }));
  t.is(other.steps, 0, 'an already aborted signal stops before the first step');
  t.is(other.status, 'interrupted');
  t.true(fs.existsSync(path.join(dir, 'other', 'model.safetensors')), 'and still saves the (initial) model');
  fs.rmSync(dir, { recursive: true });
});

test.serial('pretrainCommand: corpus files → trained tokenizer → pretrained folder', async (t) => {
  const dir = tmp();
  const corpus = path.join(dir, 'corpus.txt');
  fs.writeFileSync(corpus, LINES.join('\n') + '\n');
  const messages: string[] = [];
  const r = await pretrainCommand({
    corpus: [corpus],
    outDir: path.join(dir, 'out'),
    vocabSize: 280,
    nLayers: 1,
    dModel: 16,
    nHeads: 2,
    context: 16,
    seqLen: 16,
    steps: 3,
    warmupSteps: 1,
    batchSize: 4,
    evalEvery: 0,
    samples: 0,
    backend: null,
    progress: false,
    log: (m) => messages.push(m),
  });
  t.is(r.status, 'completed');
  t.is(r.steps, 3);
  t.is(r.tokenizer.source, 'trained');
  t.is(r.tokenizer.vocabSize, 280);
  t.is(r.config.vocabSize, 280);
  const tok = await loadTokenizer(path.join(dir, 'out'));
  t.is(tok.vocabSize, 280);
  t.true(fs.existsSync(path.join(dir, 'out-tensorboard')), 'TensorBoard logs next to the folder by default');
  t.true(
    messages.some((m) => /200 lines \(196 training, 4 held out\)/.test(m)),
    messages.join('\n'),
  );
  // Reusing the saved tokenizer instead of training one.
  const r2 = await pretrainCommand({
    corpus: [corpus],
    outDir: path.join(dir, 'out2'),
    tokenizer: path.join(dir, 'out'),
    nLayers: 1,
    dModel: 16,
    nHeads: 2,
    context: 16,
    seqLen: 16,
    steps: 2,
    warmupSteps: 1,
    batchSize: 4,
    evalEvery: 0,
    samples: 0,
    backend: null,
    progress: false,
    logDir: null,
    log: () => {},
  });
  t.is(r2.tokenizer.source, path.join(dir, 'out'));
  t.is(r2.config.vocabSize, 280);
  t.false(fs.existsSync(path.join(dir, 'out2-tensorboard')));
  await t.throwsAsync(pretrainCommand({ lines: ['only one'], outDir: path.join(dir, 'x'), backend: null, log: () => {} }), {
    message: /at least 2/,
  });
  await t.throwsAsync(pretrainCommand({ lines: LINES, outDir: path.join(dir, 'x'), backend: null, seqLen: 256, log: () => {} }), {
    message: /seqLen \(256\) must be ≤ model.context \(128\)/,
  });
  fs.rmSync(dir, { recursive: true });
});
