/**
 * CausalLM behaviour: config parsing, reference models (shared and frozen weights as TRL's
 * create_reference_model), trainable sets, gradients on wasm equal to cpu, value-head initialisation, hygiene.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { expandAttentionTypes, makeConfig, parseHfConfig, toHfConfig } from '../../core/model/arch/hf-config.js';
import { loadCausalLM } from '../../core/model/load.js';
import { KVCache } from '../../core/model/kv-cache.js';
import { maxAbsDiff, fixturePath } from '../fixtures/model/helpers.js';

const tiny = makeConfig({ vocabSize: 50, nPositions: 16, dModel: 16, nHeads: 2, nLayers: 3 });

test.serial('config: GPT-2 and GPT-Neo fields map to one TransformerConfig', (t) => {
  const g = parseHfConfig({ model_type: 'gpt2', vocab_size: 10, n_positions: 8, n_embd: 4, n_layer: 2, n_head: 2, eos_token_id: 9 });
  t.is(g.dInner, 16);
  t.true(g.scaleAttention);
  t.true(g.qkvBias);
  t.deepEqual(g.attentionTypes, ['global', 'global']);
  t.is(g.activation, 'gelu_new');
  const n = parseHfConfig({
    model_type: 'gpt_neo',
    vocab_size: 10,
    max_position_embeddings: 8,
    hidden_size: 4,
    num_layers: 4,
    num_heads: 2,
    attention_types: [[['global', 'local'], 2]],
    window_size: 3,
    intermediate_size: 12,
  });
  t.false(n.scaleAttention);
  t.false(n.qkvBias);
  t.is(n.dInner, 12);
  t.deepEqual(n.attentionTypes, ['global', 'local', 'global', 'local']);
  t.is(n.windowSize, 3);
  // Round trip through config.json form.
  t.deepEqual(parseHfConfig(toHfConfig(n)).attentionTypes, n.attentionTypes);
  t.deepEqual(
    expandAttentionTypes(
      [
        [['local'], 1],
        [['global', 'global'], 1],
      ],
      3,
    ),
    ['local', 'global', 'global'],
  );
});

test.serial('config: errors name the field and what is allowed', (t) => {
  t.throws(() => parseHfConfig({ model_type: 'llama' }), { message: /model_type "llama" is not supported; supported: gpt2, gpt_neo/ });
  t.throws(() => parseHfConfig({ model_type: 'gpt2', vocab_size: 10, n_positions: 8, n_embd: 5, n_layer: 1, n_head: 2 }), {
    message: /n_embd 5 is not divisible by n_head 2/,
  });
  t.throws(
    () =>
      parseHfConfig({ model_type: 'gpt2', vocab_size: 10, n_positions: 8, n_embd: 4, n_layer: 1, n_head: 2, activation_function: 'swish' }),
    { message: /"activation_function" is "swish"; supported: gelu_new/ },
  );
  t.throws(() => expandAttentionTypes([[['global', 'local'], 2]], 3), { message: /expands to 4 layers but "num_layers" is 3/ });
  t.throws(() => parseHfConfig({ model_type: 'gpt2', n_positions: 8, n_embd: 4, n_layer: 1, n_head: 2 }), {
    message: /missing numeric field "vocab_size"/,
  });
  t.throws(
    () =>
      parseHfConfig({
        model_type: 'gpt_neo',
        vocab_size: 10,
        max_position_embeddings: 8,
        hidden_size: 4,
        num_layers: 2,
        num_heads: 2,
        attention_layers: ['global'],
      }),
    { message: /"attention_layers" must list "global"\/"local" for each of the 2 layers/ },
  );
});

test.serial('createReference without numSharedLayers: full frozen copy, policy fully trainable', async (t) => {
  await initBackend('cpu');
  const policy = CausalLM.random(tiny, { seed: 1 });
  const ref = policy.createReference();
  t.is(policy.trainableVariables().length, policy.namedWeights().size);
  t.is(ref.trainableVariables().length, 0);
  t.deepEqual(policy.sharedWeightNames(), []);
  // Updating the policy leaves the reference unchanged.
  const wte = policy.namedWeights().get('transformer.wte.weight')!;
  const before = Float32Array.from(await ref.namedWeights().get('transformer.wte.weight')!.data());
  wte.assign(tf.add(wte, 1));
  t.deepEqual(Float32Array.from(await ref.namedWeights().get('transformer.wte.weight')!.data()), before);
  policy.dispose();
});

test.serial('createReference with numSharedLayers: embeddings and first N blocks shared and frozen', async (t) => {
  await initBackend('cpu');
  const policy = CausalLM.random(tiny, { seed: 2 });
  const ref = policy.createReference({ numSharedLayers: 2 });
  const shared = new Set(policy.sharedWeightNames());
  t.true(shared.has('transformer.wte.weight'));
  t.true(shared.has('transformer.wpe.weight'));
  t.true(shared.has('transformer.h.1.mlp.c_fc.weight'));
  t.false(shared.has('transformer.h.2.ln_1.weight'));
  t.false(shared.has('transformer.ln_f.weight'));
  t.false(shared.has('v_head.summary.weight'));
  for (const name of shared) {
    t.is(policy.namedWeights().get(name), ref.namedWeights().get(name), `${name} must be the same variable`);
    t.false(policy.namedWeights().get(name)!.trainable, `${name} must be frozen in the policy`);
  }
  const trainable = new Set(policy.trainableVariables());
  t.true(trainable.has(policy.namedWeights().get('transformer.h.2.attn.c_attn.weight')!));
  t.true(trainable.has(policy.namedWeights().get('v_head.summary.weight')!));
  t.is(ref.trainableVariables().length, 0);
  // Forward through which='reference' equals the reference itself, and equals the policy before any update.
  const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
  const mask = tf.ones([1, 4], 'int32') as tf.Tensor2D;
  const a = (await policy.forward(ids, mask, { which: 'reference' }).logits.data()) as Float32Array;
  const b = (await policy.forward(ids, mask).logits.data()) as Float32Array;
  t.is(maxAbsDiff(a, b), 0);
  t.throws(() => policy.createReference({ numSharedLayers: 3 }), { message: /numSharedLayers must be an integer in \[0, 2\]/ });
  // Disposing the policy frees shared variables once (reference first), without errors.
  const before = tf.memory().numTensors;
  policy.dispose();
  t.true(tf.memory().numTensors < before);
  tf.dispose([ids, mask]);
});

test.serial('setTrainable selects the variables an optimiser sees', async (t) => {
  await initBackend('cpu');
  const m = CausalLM.random(tiny, { seed: 3 });
  m.setTrainable((name) => name.startsWith('v_head.'));
  t.deepEqual(
    m
      .trainableVariables()
      .map((v) => v.name.split('/')[1])
      .sort(),
    ['v_head.summary.bias', 'v_head.summary.weight'],
  );
  m.dispose();
});

/** PPO-style loss on log-probs and values, summed into one scalar. */
function ppoLikeLoss(model: CausalLM, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  const { logits, values } = model.forward(ids, mask);
  const [b, t] = ids.shape;
  const lp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [b, t - 1, -1])); // [B, T-1, V]
  const next = tf.slice(ids, [0, 1], [b, t - 1]); // [B, T-1]
  const oh = tf.cast(tf.oneHot(next, model.config.vocabSize), 'float32'); // [B, T-1, V]
  const logp = tf.sum(tf.mul(lp, oh), -1); // [B, T-1]
  const ratio = tf.exp(tf.add(logp, 2)); // [B, T-1]
  const pg = tf.mean(tf.mul(ratio, tf.linspace(-1, 1, t - 1))); // scalar
  const vf = tf.mean(tf.square(tf.sub(tf.slice(values, [0, 0], [b, t - 1]), 0.5))); // scalar
  return tf.add(pg, tf.mul(vf, 0.1)) as tf.Scalar;
}

test.serial('gradients of a PPO-style loss on wasm equal cpu (GPT-2 and GPT-Neo), no tensor leak across steps', async (t) => {
  for (const ckpt of ['gpt2-tiny', 'gpt-neo-tiny']) {
    const grads: Record<string, Float32Array[]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const model = await loadCausalLM(fixturePath(ckpt), { seed: 5 });
      const ids = tf.tensor2d(
        [
          [5, 17, 42, 99, 3, 8],
          [0, 0, 11, 12, 13, 14],
        ],
        undefined,
        'int32',
      );
      const mask = tf.tensor2d(
        [
          [1, 1, 1, 1, 1, 1],
          [0, 0, 1, 1, 1, 1],
        ],
        undefined,
        'int32',
      );
      const vars = model.trainableVariables();
      const opt = tf.train.adam(1e-3);
      const counts: number[] = [];
      for (let step = 0; step < 3; step++) {
        const { value, grads: g } = tf.variableGrads(() => ppoLikeLoss(model, ids, mask), vars) as {
          value: tf.Scalar;
          grads: Record<string, tf.Tensor>;
        };
        if (step === 0) grads[backend] = await Promise.all(vars.map(async (v) => Float32Array.from(await g[v.name]!.data())));
        opt.applyGradients(Object.entries(g).map(([name, tensor]) => ({ name, tensor })));
        tf.dispose([value, ...Object.values(g)]);
        counts.push(tf.memory().numTensors);
      }
      t.true(counts[2] === counts[1], `${ckpt} on ${backend}: tensors grew across steps (${counts.join(', ')})`);
      opt.dispose();
      tf.dispose([ids, mask]);
      model.dispose();
    }
    const n = grads.cpu!.length;
    t.true(n > 10);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const scale = Math.max(1e-3, ...Array.from(grads.cpu![i]!, Math.abs));
      worst = Math.max(worst, maxAbsDiff(grads.cpu![i]!, grads.wasm![i]!) / scale);
    }
    t.true(worst < 1e-3, `${ckpt}: relative gradient difference ${worst.toExponential(2)}`);
    // The embedding gradient (through gather and the tied head) is non-zero.
    t.true(grads.wasm![0]!.some((x) => x !== 0));
  }
});

test.serial("value head init: 'default' is nn.Linear's U(±1/sqrt(d)), 'normal' is N(0, 0.2) with zero bias, seeded", async (t) => {
  await initBackend('cpu');
  const cfg = makeConfig({ vocabSize: 20, nPositions: 8, dModel: 400, nHeads: 4, nLayers: 1 });
  const a = CausalLM.random(cfg, { seed: 9 });
  const w = (await a.namedWeights().get('v_head.summary.weight')!.data()) as Float32Array;
  const bound = 1 / Math.sqrt(400);
  t.true(w.every((x) => Math.abs(x) <= bound));
  t.true(Math.max(...w) > 0.8 * bound);
  const b = CausalLM.random(cfg, { seed: 9, vHeadInit: 'normal' });
  const wn = (await b.namedWeights().get('v_head.summary.weight')!.data()) as Float32Array;
  const std = Math.sqrt(wn.reduce((s, x) => s + x * x, 0) / wn.length);
  t.true(std > 0.17 && std < 0.23, `std ${std}`);
  t.deepEqual(Array.from(await b.namedWeights().get('v_head.summary.bias')!.data()), [0]);
  const c = CausalLM.random(cfg, { seed: 9 });
  t.deepEqual(Array.from((await c.namedWeights().get('v_head.summary.weight')!.data()) as Float32Array), Array.from(w));
  t.throws(() => CausalLM.random(cfg, { vHeadInit: 'zeros' as never }), { message: /vHeadInit must be 'default' or 'normal'/ });
  [a, b, c].forEach((m) => m.dispose());
});

test.serial('forward validates its inputs', async (t) => {
  await initBackend('cpu');
  const m = CausalLM.random(tiny, { seed: 4 });
  const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  t.throws(() => m.forward(ids, tf.ones([1, 2], 'int32') as tf.Tensor2D), { message: /attentionMask must be \[1, 3\]/ });
  t.throws(() => m.forward(tf.tensor2d([[1, 2]]), tf.ones([1, 2], 'int32') as tf.Tensor2D), { message: /must be int32/ });
  const long = tf.zeros([1, 17], 'int32') as tf.Tensor2D;
  t.throws(() => m.forward(long, long), { message: /17 positions exceed the model's n_positions 16/ });
  t.throws(() => m.forward(ids, tf.ones([1, 3], 'int32') as tf.Tensor2D, { which: 'reference' }), {
    message: /call createReference\(\) first/,
  });
  const cache = new KVCache(tiny.nLayers);
  t.throws(
    () =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(m.forward(ids, tf.ones([1, 3], 'int32') as tf.Tensor2D, { cache }).logits, x)))(tf.scalar(1)),
    { message: /KV cache is for inference/ },
  );
  cache.dispose();
  m.dispose();
});
