/**
 * The wasm SIMD kernels against the composite ops on the cpu backend: GEMM layouts, fused LayerNorm, GELU,
 * attention (with and without a cache), token log-probs, gather/sum overrides and the fused Adam — values and
 * gradients.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { FusedAdam } from '../../core/model/wasm/fused-adam.js';
import { fusedOpsAvailable } from '../../core/model/wasm/fused-ops.js';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { KVCache } from '../../core/model/kv-cache.js';
import { tokenLogProbs } from '../../core/model/log-probs.js';
import { SeededRandom } from '../../core/model/seeded-random.js';
import { activate, layerNorm } from '../../core/model/transformer.js';
import { disableGemmThreads, gemmThreadsEnabled } from '../../core/model/wasm/threads.js';
import { maxAbsDiff } from '../fixtures/model/helpers.js';

function host(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.tensor(
    new SeededRandom(seed).normalArray(
      shape.reduce((a, b) => a * b, 1),
      std,
    ),
    shape,
  );
}

/** Runs f on cpu (composite ops) and wasm (fused kernels); returns host copies of every output. */
async function compare(f: () => tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const out: Record<string, Float32Array[]> = {};
  for (const b of ['cpu', 'wasm'] as const) {
    await initBackend(b);
    const before = tf.memory().numTensors;
    const res = tf.tidy(f);
    out[b] = await Promise.all(res.map(async (t) => Float32Array.from(await t.data())));
    tf.dispose(res);
    if (tf.memory().numTensors !== before) throw new Error(`${b}: leaked ${tf.memory().numTensors - before} tensors`);
  }
  return { cpu: out.cpu!, wasm: out.wasm! };
}

function assertClose(t: { true(v: boolean, m?: string): void }, a: Float32Array[], b: Float32Array[], tol: number, what: string): void {
  for (let i = 0; i < a.length; i++) {
    const scale = Math.max(1, ...Array.from(a[i]!, Math.abs));
    const d = maxAbsDiff(a[i]!, b[i]!) / scale;
    t.true(d <= tol, `${what} output ${i}: relative diff ${d.toExponential(2)} > ${tol}`);
  }
}

test.serial('the fused path is active on wasm and off on cpu', async (t) => {
  await initBackend('wasm');
  t.true(fusedOpsAvailable());
  await initBackend('cpu');
  t.false(fusedOpsAvailable());
});

test.serial('GEMM layouts (NN, TN, NT, batched, broadcast, fused bias, odd sizes) match cpu', async (t) => {
  const { cpu, wasm } = await compare(() => {
    const a = host([2, 3, 9, 12], 1);
    const b = host([2, 3, 12, 8], 2);
    const c = host([12, 7], 3);
    const bias = host([8], 4);
    return [
      tf.matMul(a, b),
      tf.matMul(tf.transpose(a, [0, 1, 3, 2]), b, true, false),
      tf.matMul(a, tf.transpose(b, [0, 1, 3, 2]), false, true),
      tf.matMul(a, tf.reshape(tf.slice(b, [0, 0, 0, 0], [1, 1, 12, 8]), [12, 8])), // batch folded into rows
      tf.matMul(tf.reshape(a, [54, 12]), c), // n = 7: fallback path
      tf.fused.matMul({ a: tf.reshape(a, [54, 12]), b: tf.reshape(tf.slice(b, [0, 0, 0, 0], [1, 1, 12, 8]), [12, 8]), bias }),
      tf.matMul(host([5, 13], 5), host([6, 13], 6), false, true), // NT with k % 4 != 0: fallback
      tf.matMul(host([13, 5], 7), host([13, 6], 8), true, false),
      // Tall A times Bᵀ with n % 4 != 0 (attention scores of 10 keys): must not take the packed-panel path.
      tf.matMul(host([20, 8], 9), host([10, 8], 10), false, true),
      tf.matMul(host([2, 3, 20, 8], 11), host([2, 3, 10, 8], 12), false, true),
      tf.matMul(host([24, 12], 13), host([16, 12], 14), false, true), // packed-panel NT path
    ];
  });
  assertClose(t, cpu, wasm, 1e-5, 'gemm');
});

test.serial('fused LayerNorm and GELU: values and gradients match the composite ops', async (t) => {
  const { cpu, wasm } = await compare(() => {
    const x = host([37, 24], 11, 2);
    const g = host([24], 12);
    const b = host([24], 13);
    const up = host([37, 24], 14);
    const ln = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => layerNorm(xx as tf.Tensor2D, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-5);
    const y = ln(x, g, b);
    const grads = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ln(xx, gg, bb), up)))([x, g, b]);
    const z = host([3, 7, 13], 15, 3); // size not a multiple of 4: exercises the scalar tail
    const gz = activate('gelu_new', z);
    const dz = tf.grad((zz: tf.Tensor) => tf.sum(tf.mul(activate('gelu_new', zz), host([3, 7, 13], 16))))(z);
    return [y, ...grads, gz, dz];
  });
  assertClose(t, cpu, wasm, 2e-5, 'layernorm/gelu');
});

const attnCfg = makeConfig({ vocabSize: 64, nPositions: 40, dModel: 24, nHeads: 3, nLayers: 2 });
const neoCfg = makeConfig({
  modelType: 'gpt_neo',
  vocabSize: 64,
  nPositions: 40,
  dModel: 16,
  nHeads: 4,
  nLayers: 2,
  attentionTypes: ['local', 'global'],
  windowSize: 3,
});
// relu MLP: the whole-block op does not apply, so attention, LayerNorm and the MLP run as separate fused ops.
const reluCfg = makeConfig({ vocabSize: 64, nPositions: 40, dModel: 24, nHeads: 3, nLayers: 2, activation: 'relu' });

for (const [label, cfg] of [
  ['GPT-2 fused block', attnCfg],
  ['GPT-Neo local fused block', neoCfg],
  ['separate fused ops', reluCfg],
] as const) {
  test.serial(`fused transformer (${label}, padded batch, T = 11): logits and all gradients match cpu`, async (t) => {
    const ids = [
      [0, 0, 5, 9, 14, 3, 7, 60, 2, 8, 1],
      [4, 4, 8, 15, 16, 23, 42, 9, 9, 1, 0],
    ];
    const mask = [
      [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ];
    const { cpu, wasm } = await compare(() => {
      const model = CausalLM.random(cfg, { seed: 3, std: 0.3 });
      const x = tf.tensor2d(ids, undefined, 'int32');
      const m = tf.tensor2d(mask, undefined, 'int32');
      const logits = model.forward(x, m).logits;
      const vars = model.trainableVariables().filter((v) => !v.name.includes('v_head.')); // no path from logits to the value head
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(x, m).logits, host([2, 11, 64], 21))) as tf.Scalar, vars);
      const out = [logits, ...vars.map((v) => grads[v.name]!)];
      model.dispose();
      return out;
    });
    t.true(cpu.length > 10);
    assertClose(t, cpu, wasm, 2e-5, label);
  });
}

test.serial('cached attention: prefill + single steps equal the full forward, buffers grow when full', async (t) => {
  await initBackend('wasm');
  const model = CausalLM.random(neoCfg, { seed: 5, std: 0.3 });
  const ids = [
    [3, 1, 4, 1, 5, 9, 2, 6, 5, 3],
    [2, 7, 1, 8, 2, 8, 1, 8, 2, 8],
  ];
  const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.ones([2, 10], 'int32') as tf.Tensor2D).logits);
  const fullData = (await full.data()) as Float32Array;
  const cache = new KVCache(neoCfg.nLayers, { capacity: 4 }); // smaller than needed: buffers must grow
  let worst = 0;
  for (let s = 0; s < 10; s = s === 0 ? 3 : s + 1) {
    const len = s === 0 ? 3 : 1;
    const logits = tf.tidy(
      () =>
        model.forward(
          tf.tensor2d(
            ids.map((r) => r.slice(s, s + len)),
            undefined,
            'int32',
          ),
          tf.ones([2, s + len], 'int32') as tf.Tensor2D,
          { cache },
        ).logits,
    );
    const got = (await logits.data()) as Float32Array;
    logits.dispose();
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < len; j++) {
        const a = got.subarray((b * len + j) * 64, (b * len + j + 1) * 64);
        const e = fullData.subarray((b * 10 + s + j) * 64, (b * 10 + s + j + 1) * 64);
        worst = Math.max(worst, maxAbsDiff(a, e));
      }
    }
  }
  t.true(cache.buffers[0]!.k.shape[1] >= 10);
  t.true(worst < 1e-4, `max diff ${worst}`);
  cache.dispose();
  full.dispose();
  model.dispose();
});

test.serial('token log-probs (fused on wasm) equal log_softmax + gather on cpu, with gradients', async (t) => {
  const cfg = makeConfig({ vocabSize: 37, nPositions: 16, dModel: 8, nHeads: 2, nLayers: 1 });
  const { cpu, wasm } = await compare(() => {
    const model = CausalLM.random(cfg, { seed: 9, std: 0.5 });
    const h = host([3, 5, 8], 31, 2) as tf.Tensor3D;
    const targets = tf.tensor2d(
      [
        [0, 36, 5, 7, 7],
        [1, 2, 3, 4, 5],
        [30, 31, 32, 33, 34],
      ],
      undefined,
      'int32',
    );
    const lp = tokenLogProbs(model, h, targets);
    const wte = model.namedWeights().get('transformer.wte.weight')!;
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(tokenLogProbs(model, h, targets, { chunkRows: 4 }), host([3, 5], 32))) as tf.Scalar,
      [wte],
    );
    const gh = tf.grad((hh: tf.Tensor) => tf.sum(tokenLogProbs(model, hh as tf.Tensor3D, targets)))(h);
    const out = [lp, grads[wte.name]!, gh];
    model.dispose();
    return out;
  });
  assertClose(t, cpu, wasm, 2e-5, 'log-probs');
  // log-probabilities are ≤ 0 and each row of exp sums below 1
  t.true(cpu[0]!.every((x) => x <= 0));
});

test.serial('gather and leading-axis sum overrides match cpu', async (t) => {
  const { cpu, wasm } = await compare(() => {
    const table = host([50, 6], 41);
    const idx = tf.tensor2d(
      [
        [3, 49, 0],
        [7, 7, 12],
      ],
      undefined,
      'int32',
    );
    return [
      tf.gather(table, idx),
      tf.cast(
        tf.gather(
          tf.tensor2d(
            [
              [1, 2],
              [3, 4],
              [5, 6],
            ],
            undefined,
            'int32',
          ),
          tf.tensor1d([2, 0], 'int32'),
        ),
        'float32',
      ),
      tf.sum(host([9, 5, 7], 42), 0),
      tf.sum(host([9, 5, 7], 43), [0, 1], true),
      tf.sum(host([9, 5, 7], 44), 2),
    ];
  });
  assertClose(t, cpu, wasm, 1e-6, 'gather/sum');
  await initBackend('wasm');
  t.throws(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], 'int32')), { message: /index 3 at position 0 is outside \[0, 3\)/ });
});

test.serial('FusedAdam follows tf.train.adam exactly (3 steps, wasm vs stock)', async (t) => {
  await initBackend('wasm');
  const run = async (opt: tf.Optimizer): Promise<Float32Array[]> => {
    const init1 = host([5, 6], 51);
    const init2 = host([7], 52);
    const w1 = tf.variable(init1, true, `adam_w1_${opt.constructor.name}`);
    const w2 = tf.variable(init2, true, `adam_w2_${opt.constructor.name}`);
    tf.dispose([init1, init2]);
    for (let s = 0; s < 3; s++) {
      opt.minimize(() => tf.add(tf.sum(tf.square(tf.sub(w1, 0.3))), tf.sum(tf.mul(w2, tf.sin(w2)))) as tf.Scalar, false, [w1, w2]);
    }
    const out = [Float32Array.from(await w1.data()), Float32Array.from(await w2.data())];
    w1.dispose();
    w2.dispose();
    opt.dispose();
    return out;
  };
  const before = tf.memory().numTensors;
  const fused = await run(new FusedAdam(0.05, 0.9, 0.999, 1e-8));
  const stock = await run(tf.train.adam(0.05, 0.9, 0.999, 1e-8));
  t.is(tf.memory().numTensors, before);
  assertClose(t, stock, fused, 1e-5, 'adam');
  // The weights moved (the test cannot pass with a no-op update).
  t.true(
    maxAbsDiff(
      fused[0]!,
      tf.tidy(() => host([5, 6], 51).dataSync() as Float32Array),
    ) > 0.1,
  );
});

test.serial('threads: 2 splits large products with a worker thread, same results as one thread', async (t) => {
  const info = await initBackend('wasm', { threads: 2 });
  t.is(info.threads, 2);
  t.true(gemmThreadsEnabled());
  const run = () =>
    tf.tidy(() => {
      const a = host([200, 96], 61);
      const b = host([96, 160], 62);
      const bt = host([160, 96], 63);
      const at = host([96, 200], 64);
      const bias = host([160], 65);
      return [tf.matMul(a, b), tf.matMul(a, bt, false, true), tf.matMul(at, b, true, false), tf.fused.matMul({ a, b, bias })]
        .map((x) => x.dataSync() as Float32Array)
        .map((x) => Float32Array.from(x));
    });
  const two = run();
  await initBackend('wasm', { threads: 1 });
  t.false(gemmThreadsEnabled());
  const one = run();
  for (let i = 0; i < one.length; i++) t.true(maxAbsDiff(one[i]!, two[i]!) < 1e-4, `product ${i}`);
  await t.throwsAsync(() => initBackend('wasm', { threads: 3 }), { message: /threads must be 1 or 2, got 3/ });
  await disableGemmThreads();
});
