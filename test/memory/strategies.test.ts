/**
 * Memory strategies change no result beyond their stated tolerance: shared layers and checkpointing give identical
 * reference log-probs, losses and gradients; bf16 stays within bfloat16 rounding and halves frozen-weight memory;
 * every combination of the three plugins builds and trains.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { makeConfig, type TransformerConfig } from '../../core/model/arch/hf-config.js';
import { tokenLogProbs } from '../../core/model/log-probs.js';
import { applyMemoryPlan } from '../../core/model/policy.js';
import { packBf16, roundToBf16InPlace, unpackBf16 } from '../../core/model/memory/bf16.js';
import { f32ToBf16 } from '../../core/model/io/safetensors.js';
import { defaultMemoryPlan, type MemoryStrategy } from '../../core/interfaces/memory.js';
import { measurePeakBytes } from '../../core/memory/peak-bytes.js';
import sharedLayers from '../../plugins/memory/shared-layers.js';
import bf16 from '../../plugins/memory/bf16.js';
import checkpointing from '../../plugins/memory/checkpointing.js';

const gpt2 = makeConfig({ vocabSize: 64, nPositions: 16, dModel: 16, nHeads: 2, nLayers: 3 });
const neo = makeConfig({
  modelType: 'gpt_neo',
  vocabSize: 64,
  nPositions: 16,
  dModel: 16,
  nHeads: 2,
  nLayers: 3,
  attentionTypes: ['global', 'local', 'global'],
  windowSize: 3,
});

const gptj = makeConfig({ modelType: 'gptj', vocabSize: 64, nPositions: 16, dModel: 16, nHeads: 2, nLayers: 3, rotaryDim: 4 });
// OPT in opt-350m's form (post-LN, embeddings projected 8 ↔ 16) and BLOOM with ALiBi over 3 heads.
const opt = makeConfig({
  modelType: 'opt',
  vocabSize: 64,
  nPositions: 16,
  dModel: 16,
  nHeads: 2,
  nLayers: 3,
  wordEmbedProjDim: 8,
  postLayerNorm: true,
});
const bloom = makeConfig({ modelType: 'bloom', vocabSize: 64, nPositions: 16, dModel: 24, nHeads: 3, nLayers: 3 });

/** Per architecture: weights a 2-layer shared reference must share (TRL: everything before block 2) and one it must not. */
const SHARED_NAMES: Record<string, { inside: string[]; outside: string }> = {
  gpt2: { inside: ['transformer.wte.weight', 'transformer.h.1.ln_1.weight'], outside: 'transformer.h.2.ln_1.weight' },
  'gpt-neo': { inside: ['transformer.wte.weight', 'transformer.h.1.ln_1.weight'], outside: 'transformer.h.2.ln_1.weight' },
  'gpt-j': { inside: ['transformer.wte.weight', 'transformer.h.1.ln_1.weight'], outside: 'transformer.h.2.ln_1.weight' },
  opt: {
    inside: [
      'model.decoder.embed_tokens.weight',
      'model.decoder.embed_positions.weight',
      'model.decoder.project_in.weight',
      'model.decoder.project_out.weight',
      'model.decoder.layers.1.fc2.weight',
    ],
    outside: 'model.decoder.layers.2.self_attn.q_proj.weight',
  },
  bloom: {
    inside: ['transformer.word_embeddings.weight', 'transformer.word_embeddings_layernorm.bias', 'transformer.h.1.input_layernorm.weight'],
    outside: 'transformer.h.2.input_layernorm.weight',
  },
};

const IDS = [
  [5, 9, 17, 33, 2, 41, 8, 60],
  [0, 0, 12, 7, 19, 25, 31, 4],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [0, 0, 1, 1, 1, 1, 1, 1],
];

test.before(async () => {
  await initBackend('wasm');
});

function inputs(): { ids: tf.Tensor2D; am: tf.Tensor2D; targets: tf.Tensor2D } {
  const ids = tf.tensor2d(IDS, undefined, 'int32'); // [2, 8]
  const am = tf.tensor2d(MASK, undefined, 'int32'); // [2, 8]
  const targets = tf.tensor2d(
    IDS.map((r) => [...r.slice(1), 3]),
    undefined,
    'int32',
  ); // [2, 8]
  return { ids, am, targets };
}

/** A PPO-shaped scalar: weighted token log-probs plus a value term, so every weight gets a gradient. */
function lossOf(model: CausalLM, which: 'policy' | 'reference' = 'policy'): tf.Scalar {
  const { ids, am, targets } = inputs();
  const hidden = model.hiddenStates(ids, am, { which }); // [2, 8, d]
  const lp = tokenLogProbs(which === 'policy' ? model : model.reference!, hidden, targets); // [2, 8]
  const w = tf.linspace(-1, 1, 16).reshape([2, 8]); // [2, 8]
  const values = model.valueHead(hidden); // [2, 8]
  return tf.add(tf.sum(tf.mul(lp, w)), tf.mul(tf.sum(tf.square(values)), 0.5)) as tf.Scalar; // []
}

async function gradsOf(model: CausalLM): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const vars = model.trainableVariables();
  const { value, grads } = tf.variableGrads(() => lossOf(model), vars);
  const byName = new Map<string, tf.Variable>([...model.namedWeights()].map(([, v]) => [v.name, v] as [string, tf.Variable]));
  const hfName = new Map([...model.namedWeights()].map(([n, v]) => [v.name, n]));
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) out.set(hfName.get(byName.get(k)!.name)!, Float32Array.from(await g.data()));
  const loss = (await value.data())[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

async function logitsOf(model: CausalLM, which: 'policy' | 'reference'): Promise<Float32Array> {
  const { ids, am, targets } = inputs();
  const out = model.forward(ids, am, { which });
  const data = Float32Array.from(await out.logits.data());
  tf.dispose([ids, am, targets, out.logits, out.values]);
  return data;
}

/** Moves every trainable weight a little, identically in each model given. */
function perturb(models: CausalLM[]): void {
  for (const m of models) {
    for (const [name, v] of m.namedWeights()) {
      if (!v.trainable) continue;
      const seed = [...name].reduce((a, c) => a + c.charCodeAt(0), 0);
      tf.tidy(() => v.assign(tf.add(v, tf.randomUniform(v.shape, -0.05, 0.05, 'float32', seed)))); // shape of v
    }
  }
}

for (const [label, cfg] of [
  ['gpt2', gpt2],
  ['gpt-neo', neo],
  ['gpt-j', gptj],
  ['opt', opt],
  ['bloom', bloom],
] as [string, TransformerConfig][]) {
  test.serial(`shared-layers (${label}): reference log-probs, loss and gradients equal those with a separate frozen copy`, async (t) => {
    const shared = CausalLM.random(cfg, { seed: 3 });
    const copy = CausalLM.random(cfg, { seed: 3 });
    shared.createReference({ numSharedLayers: 2 });
    copy.createReference();
    // The copy's policy freezes the same weights, so both optimise the same set.
    const sharedNames = new Set(shared.sharedWeightNames());
    for (const n of SHARED_NAMES[label]!.inside) t.true(sharedNames.has(n), `${n} shared`);
    t.false(sharedNames.has(SHARED_NAMES[label]!.outside));
    copy.setTrainable((n) => !sharedNames.has(n));
    perturb([shared, copy]);
    await gradsOf(shared); // warm-up: first calls may set up kernel scratch tensors
    const before = tf.memory().numTensors;
    t.deepEqual(await logitsOf(shared, 'reference'), await logitsOf(copy, 'reference'));
    t.notDeepEqual(await logitsOf(shared, 'policy'), await logitsOf(shared, 'reference'));
    const a = await gradsOf(shared);
    const b = await gradsOf(copy);
    t.is(a.loss, b.loss);
    t.deepEqual([...a.grads.keys()].sort(), [...b.grads.keys()].sort());
    for (const [k, g] of a.grads) t.deepEqual(g, b.grads.get(k), k);
    t.is(tf.memory().numTensors, before);
    // One copy in memory: the shared reference owns only the unshared weights.
    const full = copy.reference!.memoryFootprint().float32Bytes;
    const own = shared.reference!.memoryFootprint().float32Bytes;
    const sharedBytes = [...sharedNames].reduce((s, n) => s + shared.namedWeights().get(n)!.size * 4, 0);
    t.is(own, full - sharedBytes);
    shared.dispose();
    copy.dispose();
  });

  test.serial(`checkpointing (${label}): identical loss and gradients, no leaked tensors`, async (t) => {
    const plain = CausalLM.random(cfg, { seed: 5 });
    const ckpt = CausalLM.random(cfg, { seed: 5 });
    ckpt.setCheckpointing(true);
    const a = await gradsOf(plain);
    const before = tf.memory().numTensors;
    const b = await gradsOf(ckpt);
    await gradsOf(ckpt);
    t.is(tf.memory().numTensors, before);
    t.is(a.loss, b.loss);
    t.is(a.grads.size, plain.namedWeights().size);
    for (const [k, g] of a.grads) {
      t.deepEqual(g, b.grads.get(k), k);
      t.true(
        g.some((x) => x !== 0),
        `${k} has a gradient`,
      );
    }
    plain.dispose();
    ckpt.dispose();
  });
}

test.serial('checkpointing: identical gradients on the cpu backend (composite block) too', async (t) => {
  await tf.setBackend('cpu');
  try {
    const plain = CausalLM.random(neo, { seed: 9 });
    const ckpt = CausalLM.random(neo, { seed: 9 });
    ckpt.setCheckpointing(true);
    const a = await gradsOf(plain);
    const b = await gradsOf(ckpt);
    t.is(a.loss, b.loss);
    for (const [k, g] of a.grads) t.deepEqual(g, b.grads.get(k), k);
    plain.dispose();
    ckpt.dispose();
  } finally {
    await tf.setBackend('wasm');
  }
});

test.serial('checkpointing lowers the peak memory of a forward+backward', async (t) => {
  const cfg = makeConfig({ vocabSize: 64, nPositions: 64, dModel: 32, nHeads: 2, nLayers: 4 });
  const peak = async (on: boolean) => {
    const m = CausalLM.random(cfg, { seed: 1 });
    m.setCheckpointing(on);
    const ids = tf.tensor2d(
      Array.from({ length: 4 * 64 }, (_, i) => (i * 7) % 64),
      [4, 64],
      'int32',
    ); // [4, 64]
    const am = tf.ones([4, 64], 'int32') as tf.Tensor2D; // [4, 64]
    const { peakBytes } = await measurePeakBytes(() => {
      const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(m.hiddenStates(ids, am))) as tf.Scalar, m.trainableVariables());
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([ids, am]);
    m.dispose();
    return peakBytes;
  };
  const off = await peak(false);
  const on = await peak(true);
  t.true(on < 0.7 * off, `peak with checkpointing ${on} B vs ${off} B without`);
});

test.serial('bf16 packing: round to nearest even as f32ToBf16, exact expansion, NaN kept', (t) => {
  const xs = new Float32Array([0, -0, 1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -3.14159, 1e-40, 3.3e38, Infinity, -Infinity, NaN, 65504.3]);
  const bits = packBf16(Float32Array.from(xs));
  t.deepEqual(
    Array.from(bits),
    Array.from(xs, (x) => f32ToBf16(x)),
  );
  const back = unpackBf16(bits);
  const rounded = roundToBf16InPlace(Float32Array.from(xs));
  t.deepEqual(Array.from(back), Array.from(rounded));
  t.is(back[3], 1); // tie to even (down)
  t.is(back[4], 1 + 2 ** -6); // tie to even (up)
  t.true(Number.isNaN(back[10]!));
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i]!) && xs[i] !== 0 && Math.abs(xs[i]!) > 1e-37)
      t.true(Math.abs(back[i]! - xs[i]!) <= Math.abs(xs[i]!) * 2 ** -8, `${xs[i]}`);
  }
});

test.serial('bf16 frozen storage: reference = the bf16-rounded copy exactly, half the bytes, no leaked tensors', async (t) => {
  const packed = CausalLM.random(neo, { seed: 4 });
  const plain = CausalLM.random(neo, { seed: 4 });
  const rounded = CausalLM.random(neo, { seed: 4 });
  packed.createReference({ frozenStorage: 'bfloat16' });
  plain.createReference();
  for (const v of rounded.namedWeights().values()) {
    const d = roundToBf16InPlace(Float32Array.from(v.dataSync() as Float32Array));
    tf.tidy(() => v.assign(tf.tensor(d, v.shape)));
  }
  rounded.createReference();
  const ref = packed.reference!;
  t.is(ref.memoryFootprint().float32Bytes, 0);
  t.is(ref.memoryFootprint().packedBytes * 2, plain.reference!.memoryFootprint().float32Bytes);
  t.is(ref.packedWeightNames().length, plain.namedWeights().size);
  await logitsOf(packed, 'reference'); // warm-up: first calls may set up kernel scratch tensors
  const before = tf.memory().numTensors;
  const lp = await logitsOf(packed, 'reference');
  t.is(tf.memory().numTensors, before);
  t.deepEqual(lp, await logitsOf(rounded, 'reference'));
  const exact = await logitsOf(plain, 'reference');
  let worst = 0;
  for (let i = 0; i < lp.length; i++) worst = Math.max(worst, Math.abs(lp[i]! - exact[i]!));
  t.true(worst > 0 && worst < 2e-3, `max |Δlogit| ${worst}`);
  // The policy is untouched (float32 variables).
  t.deepEqual(await logitsOf(packed, 'policy'), await logitsOf(plain, 'policy'));
  for (const m of [packed, plain, rounded]) m.dispose();
});

const ctx = { configDir: process.cwd(), seed: 0, trainSteps: 1, backend: 'wasm', memoryPlan: defaultMemoryPlan(), log: () => {} };
const STRATEGIES: Record<string, () => Promise<MemoryStrategy>> = {
  'shared-layers': async () => sharedLayers.create(sharedLayers.options.parse({ numSharedLayers: 1 }), ctx) as MemoryStrategy,
  bf16: async () => bf16.create(bf16.options.parse({}), ctx) as MemoryStrategy,
  checkpointing: async () => checkpointing.create(checkpointing.options.parse({}), ctx) as MemoryStrategy,
};

test.serial('every combination of the plugins builds and trains; results within bf16 rounding of none', async (t) => {
  const names = Object.keys(STRATEGIES);
  let baseLoss = NaN;
  for (let mask = 0; mask < 8; mask++) {
    const chosen = names.filter((_, i) => mask & (1 << i));
    const strategies = await Promise.all(chosen.map((n) => STRATEGIES[n]!()));
    const plan = defaultMemoryPlan();
    for (const s of strategies) s.apply(plan);
    const model = CausalLM.random(gpt2, { seed: 8 });
    applyMemoryPlan(model, plan);
    t.is(model.checkpointing, chosen.includes('checkpointing'), chosen.join('+'));
    t.is(model.reference!.packedWeightNames().length > 0, chosen.includes('bf16'));
    t.is(model.sharedWeightNames().length > 0, chosen.includes('shared-layers'));
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(() => lossOf(model), vars);
    const loss = (await value.data())[0]!;
    const refLoss = tf.tidy(() => lossOf(model, 'reference').dataSync()[0]!);
    // An SGD step, then the strategies' after-update work.
    tf.tidy(() => vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.01)))));
    for (const s of strategies) s.afterUpdate?.(vars);
    tf.dispose([value, ...Object.values(grads)]);
    if (mask === 0) baseLoss = loss;
    t.true(
      Math.abs(loss - baseLoss) <= (chosen.includes('bf16') ? 0.02 * Math.abs(baseLoss) : 0),
      `${chosen.join('+')}: ${loss} vs ${baseLoss}`,
    );
    t.is(refLoss, loss, `${chosen.join('+')}: reference equals policy before any update`);
    if (chosen.includes('bf16')) {
      const bits = new Uint32Array(Float32Array.from(vars[0]!.dataSync() as Float32Array).buffer);
      t.true(
        bits.every((b) => (b & 0xffff) === 0),
        'trainable weights are bf16 values after the update',
      );
    }
    model.dispose();
  }
});
