/**
 * Core acceptance test: logits and values of the fixture checkpoints equal the independent float64 PyTorch
 * reference (make_model_fixtures.py, make_opt_bloom_fixtures.py) within 1e-4, on the cpu and the wasm backend.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../../core/model/wasm/backend.js';
import { loadCausalLM } from '../../core/model/load.js';
import { fixturePath, maxAbsDiffMasked, references } from '../fixtures/model/helpers.js';

const CHECKPOINTS = [
  'gpt2-tiny',
  'gpt2-tiny-bf16-sharded',
  'gpt-neo-tiny',
  'gpt-neo-tiny-f16',
  'gptj-tiny',
  'opt-tiny',
  'opt-tiny-postln-bf16-sharded',
  'bloom-tiny',
  'bloom-tiny-f16-sharded',
];
const BACKENDS: BackendName[] = ['cpu', 'wasm'];
const TOL = 1e-4;

for (const backend of BACKENDS) {
  for (const ckpt of CHECKPOINTS) {
    test.serial(`${ckpt} matches the PyTorch reference on ${backend}`, async (t) => {
      await initBackend(backend);
      const model = await loadCausalLM(fixturePath(ckpt), { seed: 3 });
      const before = tf.memory().numTensors;
      const ref = references()[ckpt]!;
      for (const c of ref.cases) {
        const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
        const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
        const { logits, values } = model.forward(ids, mask);
        const V = model.config.vocabSize;
        t.deepEqual(logits.shape, [c.input_ids.length, c.input_ids[0]!.length, V]);
        const errL = maxAbsDiffMasked((await logits.data()) as Float32Array, c.logits, c.attention_mask, V);
        t.true(errL <= TOL, `${c.name}: max |logit error| ${errL.toExponential(2)} > ${TOL}`);
        if (c.values) {
          const errV = maxAbsDiffMasked((await values.data()) as Float32Array, c.values, c.attention_mask, 1);
          t.true(errV <= TOL, `${c.name}: max |value error| ${errV.toExponential(2)} > ${TOL}`);
        }
        tf.dispose([ids, mask, logits, values]);
      }
      t.is(tf.memory().numTensors, before, 'forward leaked tensors');
      model.dispose();
    });
  }
}

test.serial('the local-attention window changes GPT-Neo outputs (the fixture exercises it)', async (t) => {
  await initBackend('cpu');
  const model = await loadCausalLM(fixturePath('gpt-neo-tiny'));
  const c = references()['gpt-neo-tiny']!.cases[0]!;
  const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
  const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
  const local = (await model.forward(ids, mask).logits.data()) as Float32Array;
  // Same weights with every layer global: the last positions (beyond the window of 4) must differ.
  (model.config as { attentionTypes: string[] }).attentionTypes = model.config.attentionTypes.map(() => 'global');
  const global = (await model.forward(ids, mask).logits.data()) as Float32Array;
  const V = model.config.vocabSize;
  const T = c.input_ids[0]!.length;
  let diffEarly = 0;
  let diffLate = 0;
  for (let tpos = 0; tpos < T; tpos++) {
    for (let j = 0; j < V; j++) {
      const d = Math.abs(local[tpos * V + j]! - global[tpos * V + j]!);
      if (tpos < 4) diffEarly = Math.max(diffEarly, d);
      else diffLate = Math.max(diffLate, d);
    }
  }
  t.true(diffEarly < 1e-6, `positions inside the window must agree (diff ${diffEarly})`);
  t.true(diffLate > 1e-3, `positions beyond the window must differ (diff ${diffLate})`);
  model.dispose();
});
