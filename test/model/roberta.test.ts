import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../core/model/wasm/backend.js';
import { loadSequenceClassifier, parseRobertaConfig } from '../../core/model/roberta.js';
import { readSafetensors, writeSafetensors } from '../../core/model/io/safetensors.js';

const DIR = path.resolve(process.cwd(), 'test/fixtures/roberta');

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
}
const ref = JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  texts: string[];
  labels: string[];
  single_logits: number[][];
  right: Batch;
  left: Batch;
  truncated: Batch & { max_length: number };
};

function maxAbsDiff(a: number[][], b: number[][]): number {
  if (a.length !== b.length) throw new Error(`row count ${a.length} vs ${b.length}`);
  let m = 0;
  a.forEach((row, i) => {
    if (row.length !== b[i].length) throw new Error(`row ${i}: ${row.length} vs ${b[i].length} columns`);
    row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j]))));
  });
  return m;
}

async function logitsOf(t: tf.Tensor2D): Promise<number[][]> {
  const out = (await t.array()) as number[][];
  t.dispose();
  return out;
}

/** Copy the fixture's config.json (optionally edited) and model.safetensors into a fresh temp folder. */
async function tempModelDir(editConfig?: (c: Record<string, unknown>) => void): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'detox-roberta-'));
  const config = JSON.parse(await fsp.readFile(path.join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
  editConfig?.(config);
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  await fsp.copyFile(path.join(DIR, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  return dir;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test.serial(`${backend}: logits match the torch reference within 1e-4 (right/left padding, truncation, texts)`, async (t) => {
    const clf = await loadSequenceClassifier(DIR, { backend });
    t.is(tf.getBackend(), backend);
    try {
      t.deepEqual(clf.labels, ['nothate', 'hate']);
      t.deepEqual(clf.labels, ref.labels);
      t.is(clf.config.numLayers, 2);
      const errors: Record<string, number> = {};
      errors.right = maxAbsDiff(await logitsOf(clf.classify(ref.right.input_ids, ref.right.attention_mask)), ref.right.logits);
      errors.left = maxAbsDiff(await logitsOf(clf.classify(ref.left.input_ids, ref.left.attention_mask)), ref.left.logits);
      errors.truncated = maxAbsDiff(
        await logitsOf(clf.classify(ref.truncated.input_ids, ref.truncated.attention_mask)),
        ref.truncated.logits,
      );
      const ids = tf.tensor2d(ref.right.input_ids, undefined, 'int32'); // [B, T]
      const mask = tf.tensor2d(ref.right.attention_mask, undefined, 'int32'); // [B, T]
      errors.tensorInput = maxAbsDiff(await logitsOf(clf.classify(ids, mask)), ref.right.logits);
      ids.dispose();
      mask.dispose();
      errors.texts = maxAbsDiff(await clf.classifyTexts(ref.texts, { batchSize: 4 }), ref.single_logits);
      errors.textsTruncated = maxAbsDiff(await clf.classifyTexts(ref.texts, { maxLength: ref.truncated.max_length }), ref.truncated.logits);
      t.log(`${backend} max |Δlogit|: ${JSON.stringify(errors)}`);
      for (const [k, e] of Object.entries(errors)) t.true(e <= 1e-4, `${k}: max abs error ${e}`);
      // Right padding does not change a sequence's logits; left padding does (the head reads position 0).
      t.true(maxAbsDiff(ref.right.logits, ref.single_logits) < 1e-6);
      t.true(maxAbsDiff(ref.left.logits, ref.single_logits) > 0.1);
      t.deepEqual(await clf.classifyTexts([]), []);
    } finally {
      clf.dispose();
    }
  });

  test.serial(`${backend}: repeated classification keeps the tensor count flat and dispose() frees the weights`, async (t) => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const clf = await loadSequenceClassifier(DIR);
    const loaded = tf.memory().numTensors;
    t.true(loaded > before);
    for (let i = 0; i < 4; i++) {
      await clf.classifyTexts(ref.texts, { batchSize: 3 });
      void (await logitsOf(clf.classify(ref.right.input_ids, ref.right.attention_mask))).length;
      t.is(tf.memory().numTensors, loaded, `iteration ${i}`);
    }
    clf.dispose();
    t.is(tf.memory().numTensors, before);
    t.throws(() => clf.classify([[0, 2]], [[1, 1]]), { message: /after dispose/ });
  });
}

test.serial('classify rejects out-of-vocabulary ids, too-long sequences and mismatched shapes', async (t) => {
  await initBackend('cpu');
  const clf = await loadSequenceClassifier(DIR);
  try {
    t.throws(() => clf.classify([[0, 411, 2]], [[1, 1, 1]]), { message: /inputIds\[0\]\[1\] = 411 .*\[0, 411\)/ });
    const long = [new Array(33).fill(5)];
    t.throws(() => clf.classify(long, [new Array(33).fill(1)]), { message: /sequence length 33 exceeds the model's 32/ });
    t.throws(() => clf.classify([[0, 5, 2]], [[1, 1]]), { message: /must both be \[B, T\]/ });
    await t.throwsAsync(clf.classifyTexts(['x'], { maxLength: 40 }), { message: /maxLength must be an integer in \[3, 32\], got 40/ });
    await t.throwsAsync(clf.classifyTexts(['x'], { batchSize: 0 }), { message: /batchSize must be a positive integer, got 0/ });
  } finally {
    clf.dispose();
  }
});

test.serial('a folder without tokenizer files classifies ids but classifyTexts says what is missing', async (t) => {
  await initBackend('cpu');
  const dir = await tempModelDir();
  try {
    const clf = await loadSequenceClassifier(dir);
    t.is(clf.tokenizer, null);
    const logits = await logitsOf(clf.classify(ref.right.input_ids, ref.right.attention_mask));
    t.true(maxAbsDiff(logits, ref.right.logits) <= 1e-4);
    await t.throwsAsync(clf.classifyTexts(['hello']), {
      message: /needs a tokenizer, but the folder has no usable tokenizer .*no tokenizer\.json/,
    });
    clf.dispose();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test.serial('unknown model_type, unsupported activation and missing tensors are errors that name them', async (t) => {
  await initBackend('cpu');
  const bert = await tempModelDir((c) => (c.model_type = 'bert'));
  const relu = await tempModelDir((c) => (c.hidden_act = 'relu'));
  const partial = await tempModelDir();
  const narrow = await tempModelDir((c) => (c.vocab_size = 400));
  try {
    await t.throwsAsync(loadSequenceClassifier(narrow), {
      message: /word_embeddings\.weight has shape \[411,32\], expected \[400,32\]/,
    });
    await t.throwsAsync(loadSequenceClassifier(bert), { message: /model_type "bert" is not supported; supported: roberta/ });
    await t.throwsAsync(loadSequenceClassifier(relu), { message: /"hidden_act" "relu" is not supported/ });
    const tensors = await readSafetensors(path.join(DIR, 'model.safetensors'));
    tensors.delete('classifier.out_proj.weight');
    tensors.delete('roberta.encoder.layer.1.attention.self.key.bias');
    await writeSafetensors(path.join(partial, 'model.safetensors'), tensors);
    const before = tf.memory().numTensors;
    await t.throwsAsync(loadSequenceClassifier(partial), {
      message: /missing tensors roberta\.encoder\.layer\.1\.attention\.self\.key\.bias, classifier\.out_proj\.weight/,
    });
    t.is(tf.memory().numTensors, before, 'a failed load frees what it created');
  } finally {
    for (const d of [bert, relu, partial, narrow]) await fsp.rm(d, { recursive: true, force: true });
  }
});

test('parseRobertaConfig reads id2label in index order and fills HF defaults', (t) => {
  const c = parseRobertaConfig({ model_type: 'roberta', id2label: { '1': 'hate', '0': 'nothate' } });
  t.deepEqual(c.labels, ['nothate', 'hate']);
  t.is(c.hiddenSize, 768);
  t.is(c.padTokenId, 1);
  t.deepEqual(parseRobertaConfig({ model_type: 'roberta', num_labels: 3 }).labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
  t.throws(() => parseRobertaConfig({ model_type: 'roberta', id2label: { '0': 'a', '2': 'b' } }), {
    message: /"id2label" must map 0\.\.1/,
  });
  t.throws(() => parseRobertaConfig({ model_type: 'roberta', hidden_size: 30, num_attention_heads: 4 }), {
    message: /"hidden_size" 30 is not a multiple of "num_attention_heads" 4/,
  });
  t.throws(() => parseRobertaConfig({}), { message: /model_type undefined is not supported/ });
});
