/**
 * GPT-J specifics beyond the parity fixture: the config's rules, rotary positions (a shift of every position id
 * leaves attention unchanged only for rotary models), the lean loss head with GPT-J's lm_head bias (values and
 * gradients equal the full-logits path), checkpoint round trip, and shared-layer references.
 */
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { saveCausalLM, unusedTensorNames } from '../../core/model/io/hf-io.js';
import { loadCausalLM } from '../../core/model/load.js';
import { parseHfConfig } from '../../core/model/arch/hf-config.js';
import { readSafetensorsFolder } from '../../core/model/io/safetensors.js';
import { fixturePath, leanVsFullHead } from '../fixtures/model/helpers.js';

const GPTJ = { model_type: 'gptj', vocab_size: 50, n_positions: 32, n_embd: 16, n_layer: 1, n_head: 2, rotary_dim: 4 };

test('GPT-J config: parsed with its architecture switches; bad rotary_dim named', (t) => {
  const c = parseHfConfig({ ...GPTJ });
  t.is(c.modelType, 'gptj');
  t.is(c.rotaryDim, 4);
  t.true(c.parallelResidual);
  t.false(c.tiedEmbeddings);
  t.true(c.lmHeadBias);
  t.false(c.outBias);
  t.true(c.scaleAttention);
  t.throws(() => parseHfConfig({ ...GPTJ, rotary_dim: 5 }), { message: /"rotary_dim" must be even and at most the head size 8, got 5/ });
  t.throws(() => parseHfConfig({ ...GPTJ, rotary_dim: 16 }), { message: /at most the head size 8, got 16/ });
  t.throws(() => parseHfConfig({ ...GPTJ, rotary_dim: null }), { message: /missing numeric field "rotary_dim"/ });
  t.throws(() => parseHfConfig({ ...GPTJ, model_type: 'llama' }), { message: /supported: gpt2, gpt_neo, gptj/ });
});

test.serial('GPT-J: the checkpoint buffers are ignored and every weight is used', async (t) => {
  const dir = fixturePath('gptj-tiny');
  const tensors = await readSafetensorsFolder(dir);
  t.true(tensors.has('transformer.h.0.attn.masked_bias'), 'fixture carries the buffers a real GPT-J checkpoint has');
  const cfg = parseHfConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
  t.deepEqual(unusedTensorNames(cfg, tensors), []);
});

test.serial('GPT-J: position ids rotate queries and keys (shifting all positions changes nothing; one position does)', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gptj-tiny'));
  const ids = tf.tensor2d([[5, 17, 42, 99, 3, 8]], undefined, 'int32');
  const mask = tf.ones([1, 6], 'int32') as tf.Tensor2D;
  const at = async (pos: number[]) => {
    const p = tf.tensor2d([pos], undefined, 'int32');
    const out = model.forward(ids, mask, { positionIds: p });
    const data = (await out.logits.data()) as Float32Array;
    tf.dispose([p, out.logits, out.values]);
    return data;
  };
  const base = await at([0, 1, 2, 3, 4, 5]);
  const shifted = await at([7, 8, 9, 10, 11, 12]);
  const moved = await at([0, 1, 2, 3, 4, 9]);
  let dShift = 0;
  let dMoved = 0;
  for (let i = 0; i < base.length; i++) {
    dShift = Math.max(dShift, Math.abs(base[i]! - shifted[i]!));
    dMoved = Math.max(dMoved, Math.abs(base[i]! - moved[i]!));
  }
  t.true(dShift < 1e-4, `rotary attention depends on relative positions only (diff ${dShift})`);
  t.true(dMoved > 1e-3, `a changed relative position must change the output (diff ${dMoved})`);
  tf.dispose([ids, mask]);
  model.dispose();
});

test.serial('GPT-J: lean loss head with the lm_head bias equals the full logits (values and gradients)', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gptj-tiny'));
  const r = leanVsFullHead(model, [5, 17, 42, 99, 3, 8, 250, 11], [17, 42, 99, 3, 8, 250, 11, 4]);
  t.true(r.value < 1e-4);
  t.is(r.grads.length, 3);
  r.grads.forEach((g, i) => t.true(g < 1e-4, `gradient ${['hidden', 'lm_head.weight', 'lm_head.bias'][i]} max diff ${g}`));
  model.dispose();
});

test.serial('GPT-J: save → load round trip is exact; a shared-layer reference shares the embedding and first blocks', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gptj-tiny'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gptj-'));
  try {
    await saveCausalLM(model, path.join(dir, 'm'));
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'm', 'config.json'), 'utf8')) as Record<string, unknown>;
    t.is(saved.model_type, 'gptj');
    t.is(saved.rotary_dim, 4);
    const again = await loadCausalLM(path.join(dir, 'm'));
    for (const [name, v] of model.namedWeights()) {
      t.deepEqual(again.namedWeights().get(name)!.dataSync(), v.dataSync(), name);
    }
    again.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ref = model.createReference({ numSharedLayers: 1 });
  const shared = new Set(model.sharedWeightNames());
  t.true(shared.has('transformer.wte.weight'));
  t.true(shared.has('transformer.h.0.attn.q_proj.weight'));
  t.false(shared.has('transformer.h.1.attn.q_proj.weight'));
  t.false(shared.has('lm_head.bias'));
  t.truthy(ref);
  model.dispose();
});
