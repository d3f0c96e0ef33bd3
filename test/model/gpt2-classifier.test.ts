import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../core/model/wasm/backend.js';
import { loadSequenceClassifier } from '../../core/model/roberta.js';
import { CausalSequenceClassifier, lastNonPadIndex, SCORE_WEIGHT } from '../../core/model/gpt2-classifier.js';
import { readSafetensors, writeSafetensors } from '../../core/model/io/safetensors.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import type { PluginContext } from '../../core/plugin/define.js';
import hfClassifier from '../../plugins/reward-models/hf-classifier.js';

/** Written by test/fixtures/make_gpt2_classifier_fixture.py (float64 reference forward in torch). */
const DIR = path.resolve(process.cwd(), 'test/fixtures/gpt2-classifier');
const ref = JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  texts: string[];
  labels: string[];
  pad_token_id: number;
  input_ids: number[][];
  attention_mask: number[][];
  last_index: number[];
  logits: number[][];
  single_logits: number[][];
};

function maxAbsDiff(a: number[][], b: number[][]): number {
  if (a.length !== b.length) throw new Error(`row count ${a.length} vs ${b.length}`);
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

async function arrayOf(t: tf.Tensor2D): Promise<number[][]> {
  const out = (await t.array()) as number[][];
  t.dispose();
  return out;
}

async function tempCopy(edit?: (config: Record<string, unknown>, tensors: Map<string, unknown>) => void): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-gpt2-cls-'));
  const config = JSON.parse(await fsp.readFile(path.join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  const tensors = await readSafetensors(path.join(DIR, 'model.safetensors'));
  edit?.(config, tensors as Map<string, unknown>);
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await fsp.copyFile(path.join(DIR, f), path.join(dir, f));
  return dir;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test.serial(`${backend}: GPT2ForSequenceClassification logits match the float64 torch reference within 1e-4`, async (t) => {
    const clf = await loadSequenceClassifier(DIR, { backend });
    t.is(tf.getBackend(), backend);
    try {
      t.deepEqual(clf.labels, ['neutral', 'toxic']);
      t.is(clf.config.modelType, 'gpt2');
      t.is(clf.config.padTokenId, ref.pad_token_id);
      t.true(clf instanceof CausalSequenceClassifier);
      const batch = await arrayOf(clf.classify(ref.input_ids, ref.attention_mask));
      t.true(maxAbsDiff(batch, ref.logits) < 1e-4, `right-padded batch: max |diff| ${maxAbsDiff(batch, ref.logits)}`);
      const texts = await clf.classifyTexts(ref.texts, { batchSize: 4 });
      t.true(maxAbsDiff(texts, ref.logits) < 1e-4, `classifyTexts: max |diff| ${maxAbsDiff(texts, ref.logits)}`);
      const singles = await clf.classifyTexts(ref.texts, { batchSize: 1 });
      t.true(maxAbsDiff(singles, ref.single_logits) < 1e-4, `one text per batch: max |diff| ${maxAbsDiff(singles, ref.single_logits)}`);
      const last = lastNonPadIndex(tf.tensor2d(ref.input_ids, undefined, 'int32'), ref.pad_token_id);
      t.deepEqual(Array.from(await last.data()), ref.last_index);
      last.dispose();
    } finally {
      clf.dispose();
    }
  });
}

test.serial('the hf-classifier reward model loads it unchanged (neutralLabel "neutral")', async (t) => {
  await initBackend('cpu');
  const ctx: PluginContext = {
    configDir: path.dirname(DIR),
    seed: 0,
    trainSteps: 1,
    backend: 'cpu',
    memoryPlan: defaultMemoryPlan(),
    log: () => {},
  };
  const model = await hfClassifier.create(hfClassifier.options.parse({ path: path.basename(DIR), neutralLabel: 'neutral' }), ctx);
  try {
    t.deepEqual(model.labels, ['neutral', 'toxic']);
    t.is(model.neutralIndex, 0);
    const logits = await model.classify(ref.texts);
    t.true(maxAbsDiff(logits, ref.logits) < 1e-4);
  } finally {
    model.dispose?.();
  }
  await t.throwsAsync(async () => hfClassifier.create(hfClassifier.options.parse({ path: path.basename(DIR) }), ctx), {
    message: /"nothate" is not a label .* neutral, toxic/,
  });
});

test.serial("save → load round trip: same tensors in transformers' names, same logits, same config", async (t) => {
  await initBackend('cpu');
  const clf = (await loadSequenceClassifier(DIR)) as CausalSequenceClassifier;
  const out = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-gpt2-cls-save-')), 'saved');
  try {
    await clf.save(out);
    const a = await readSafetensors(path.join(DIR, 'model.safetensors'));
    const b = await readSafetensors(path.join(out, 'model.safetensors'));
    t.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [name, x] of a) t.deepEqual(Array.from(b.get(name)!.data), Array.from(x.data), name);
    t.deepEqual(b.get(SCORE_WEIGHT)!.shape, [2, 16]);
    const cfg = JSON.parse(await fsp.readFile(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    t.deepEqual(cfg.architectures, ['GPT2ForSequenceClassification']);
    t.deepEqual(cfg.id2label, { 0: 'neutral', 1: 'toxic' });
    t.deepEqual(cfg.label2id, { neutral: 0, toxic: 1 });
    t.is(cfg.pad_token_id, 256);
    const again = await loadSequenceClassifier(out);
    try {
      t.deepEqual(await again.classifyTexts(ref.texts), await clf.classifyTexts(ref.texts));
    } finally {
      again.dispose();
    }
  } finally {
    clf.dispose();
  }
});

test.serial('bad folders are refused with the field named', async (t) => {
  await initBackend('cpu');
  const noScore = await tempCopy((_, tensors) => tensors.delete(SCORE_WEIGHT));
  await t.throwsAsync(loadSequenceClassifier(noScore), { message: /missing tensor score\.weight/ });
  const noPad = await tempCopy((config) => delete config.pad_token_id);
  await t.throwsAsync(loadSequenceClassifier(noPad), { message: /"pad_token_id" must be a token id/ });
  const lm = await tempCopy((config) => {
    config.architectures = ['GPT2LMHeadModel'];
  });
  await t.throwsAsync(loadSequenceClassifier(lm), { message: /not a sequence classifier \(a causal LM\?\)/ });
  const threeLabels = await tempCopy((config) => {
    config.id2label = { 0: 'a', 1: 'b', 2: 'c' };
  });
  await t.throwsAsync(loadSequenceClassifier(threeLabels), { message: /score\.weight has shape \[2,16\], expected \[3, 16\]/ });
});

test.serial('a new head on a causal LM: trainable variables, snapshot/restore, no tensor leak per classify', async (t) => {
  await initBackend('cpu');
  const clf = (await loadSequenceClassifier(DIR)) as CausalSequenceClassifier;
  try {
    const vars = clf.trainableVariables();
    t.true(vars.includes(clf.score));
    t.false(vars.some((v) => v.name.includes('v_head')));
    const snap = await clf.snapshot();
    const before = await clf.classifyTexts(ref.texts);
    const n0 = tf.memory().numTensors;
    await clf.classifyTexts(ref.texts);
    t.is(tf.memory().numTensors, n0);
    clf.score.assign(tf.zerosLike(clf.score));
    t.deepEqual((await clf.classifyTexts(['x']))[0], [0, 0]);
    clf.restore(snap);
    t.deepEqual(await clf.classifyTexts(ref.texts), before);
  } finally {
    clf.dispose();
  }
});

for (const [family, dir, pad, arch] of [
  ['opt', 'opt-tiny', 1, 'OPTForSequenceClassification'],
  ['gpt_neo', 'gpt-neo-tiny', 0, 'GPTNeoForSequenceClassification'],
] as const) {
  test.serial(`${family}: a score head on the causal LM reads the last non-pad hidden state, and saves/loads as ${arch}`, async (t) => {
    await initBackend('cpu');
    const { loadCausalLM } = await import('../../core/model/load.js');
    const lmDir = path.resolve(process.cwd(), 'test/fixtures/model', dir);
    const clf = CausalSequenceClassifier.fromCausalLM(await loadCausalLM(lmDir), {
      labels: ['neutral', 'toxic'],
      padTokenId: pad,
      seed: 3,
    });
    const lm = await loadCausalLM(lmDir);
    const ids = [
      [5, 6, 7, 8],
      [9, 10, pad, pad],
    ];
    const mask = [
      [1, 1, 1, 1],
      [1, 1, 0, 0],
    ];
    const out = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-cls-family-')), 'saved');
    try {
      const got = await arrayOf(clf.classify(ids, mask));
      // Independent path: the causal LM's own forward, hidden state of the last real token, times the head.
      const want = tf.tidy(() => {
        const { hidden } = lm.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32'), { returnHidden: true });
        const rows = tf.stack([hidden!.slice([0, 3, 0], [1, 1, -1]).reshape([-1]), hidden!.slice([1, 1, 0], [1, 1, -1]).reshape([-1])]); // [2, d]
        return tf.matMul(rows, clf.score).arraySync() as number[][];
      });
      t.true(maxAbsDiff(got, want) < 1e-5, `max |diff| ${maxAbsDiff(got, want)}`);
      await clf.save(out);
      const cfg = JSON.parse(await fsp.readFile(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      t.deepEqual(cfg.architectures, [arch]);
      t.is(cfg.model_type, family);
      const names = [...(await readSafetensors(path.join(out, 'model.safetensors'))).keys()];
      t.true(names.includes(SCORE_WEIGHT));
      t.true(
        names.every((n) => n === SCORE_WEIGHT || n.startsWith(family === 'opt' ? 'model.decoder.' : 'transformer.')),
        names.join(', '),
      );
      const again = await loadSequenceClassifier(out);
      try {
        t.true(maxAbsDiff(await arrayOf(again.classify(ids, mask)), got) < 1e-6);
      } finally {
        again.dispose();
      }
    } finally {
      clf.dispose();
      lm.dispose();
    }
  });
}

test.serial('detox-lab inspect shows a GPT-2 classifier and its class probabilities', async (t) => {
  const { inspectCommand } = await import('../../core/cli/inspect-command.js');
  const text = await inspectCommand(DIR, { text: ref.texts[1], backend: 'cpu', maxNewTokens: 1 });
  t.regex(text, /architecture: GPT2ForSequenceClassification \(2 layers\)/);
  const [n, x] = ref.logits[1]!;
  t.regex(text, new RegExp(`P\\(toxic\\) = ${(1 / (1 + Math.exp(n! - x!))).toFixed(4)}`));
});
