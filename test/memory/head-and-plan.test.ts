/**
 * The lean loss head (chunked log-probs and entropies) against the full-logits path the trainer used before, the
 * peak-bytes tracker, the memory estimate and `detox-lab plan`.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { leanTokenStats } from '../../core/model/memory/loss-head.js';
import { logitsEntropy, logprobsFromLogitsTf } from '../../core/ppo/batch.js';
import { measurePeakBytes } from '../../core/memory/peak-bytes.js';
import { estimateMemory, parseBytes, WASM_HEAP_LIMIT } from '../../core/memory/estimate.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import { knownConfig } from '../../core/memory/known-configs.js';
import { parseHfConfig } from '../../core/model/arch/hf-config.js';

const cfg = makeConfig({ vocabSize: 300, nPositions: 16, dModel: 16, nHeads: 2, nLayers: 2 });
const IDS = [
  [5, 9, 17, 33, 2, 41, 8, 260],
  [0, 0, 12, 7, 19, 299, 31, 4],
  [1, 2, 3, 4, 5, 6, 7, 8],
];

test.before(async () => {
  await initBackend('wasm');
});

/** Loss of either head: Σ w·logp + Σ u·entropy, and its gradients. */
function lossAndGrads(model: CausalLM, lean: boolean, chunkRows?: number) {
  const ids = tf.tensor2d(IDS, undefined, 'int32'); // [3, 8]
  const am = tf.tensor2d(
    IDS.map((r) => r.map((x, i) => (r[0] === 0 && i < 2 ? 0 : 1))),
    undefined,
    'int32',
  ); // [3, 8]
  const out = tf.variableGrads(() => {
    const labels = tf.slice(ids, [0, 1], [3, 7]) as tf.Tensor2D; // [3, 7]
    let lp: tf.Tensor2D;
    let ent: tf.Tensor2D;
    if (lean) {
      const h = tf.slice(model.hiddenStates(ids, am), [0, 0, 0], [3, 7, -1]) as tf.Tensor3D; // [3, 7, d]
      ({ logprobs: lp, entropy: ent } = leanTokenStats(h, model.outputEmbedding(), labels, { chunkRows }));
    } else {
      const lg = tf.slice(model.forward(ids, am).logits, [0, 0, 0], [3, 7, -1]) as tf.Tensor3D; // [3, 7, V]
      lp = logprobsFromLogitsTf(lg, labels); // [3, 7]
      ent = logitsEntropy(lg); // [3, 7]
    }
    const w = tf.linspace(-1, 1, 21).reshape([3, 7]); // [3, 7]
    return tf.add(tf.sum(tf.mul(lp, w)), tf.sum(tf.mul(ent, tf.reverse(w, 1)))) as tf.Scalar; // []
  }, model.trainableVariables());
  tf.dispose([ids, am]);
  return out;
}

test.serial('lean head: log-probs, entropy and gradients match the full-logits path (any chunk size)', async (t) => {
  const model = CausalLM.random(cfg, { seed: 2, std: 0.3 });
  const full = lossAndGrads(model, false);
  const fullLoss = full.value.dataSync()[0]!;
  for (const chunkRows of [1, 5, 21, 128]) {
    const before = tf.memory().numTensors;
    const lean = lossAndGrads(model, true, chunkRows);
    t.true(Math.abs(lean.value.dataSync()[0]! - fullLoss) < 1e-4 * Math.max(1, Math.abs(fullLoss)), `chunk ${chunkRows}`);
    for (const [name, g] of Object.entries(full.grads)) {
      const a = g.dataSync();
      const b = lean.grads[name]!.dataSync();
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        scale = Math.max(scale, Math.abs(a[i]!));
      }
      t.true(worst <= 1e-4 * Math.max(scale, 1e-3), `chunk ${chunkRows} ${name}: max |Δ| ${worst} (scale ${scale})`);
    }
    tf.dispose([lean.value, ...Object.values(lean.grads)]);
    t.is(tf.memory().numTensors, before);
  }
  tf.dispose([full.value, ...Object.values(full.grads)]);
  model.dispose();
});

test.serial('lean head: lower peak memory than the full logits; the tracker counts shared buffers once', async (t) => {
  const big = makeConfig({ vocabSize: 2048, nPositions: 32, dModel: 32, nHeads: 2, nLayers: 1 });
  const model = CausalLM.random(big, { seed: 1 });
  const ids = tf.tensor2d(
    Array.from({ length: 8 * 32 }, (_, i) => (i * 31) % 2048),
    [8, 32],
    'int32',
  ); // [8, 32]
  const am = tf.ones([8, 32], 'int32') as tf.Tensor2D; // [8, 32]
  const run = (lean: boolean) =>
    measurePeakBytes(() => {
      const { value, grads } = tf.variableGrads(() => {
        const labels = tf.slice(ids, [0, 1], [8, 31]) as tf.Tensor2D; // [8, 31]
        if (lean) {
          const h = tf.slice(model.hiddenStates(ids, am), [0, 0, 0], [8, 31, -1]) as tf.Tensor3D; // [8, 31, d]
          return tf.sum(leanTokenStats(h, model.outputEmbedding(), labels, { chunkRows: 32 }).logprobs) as tf.Scalar; // []
        }
        const lg = tf.slice(model.forward(ids, am).logits, [0, 0, 0], [8, 31, -1]) as tf.Tensor3D; // [8, 31, V]
        return tf.sum(logprobsFromLogitsTf(lg, labels)) as tf.Scalar; // []
      }, model.trainableVariables());
      tf.dispose([value, ...Object.values(grads)]);
    });
  const full = (await run(false)).peakBytes;
  const lean = (await run(true)).peakBytes;
  const logitsBytes = 8 * 31 * 2048 * 4;
  t.true(full - lean > 2 * logitsBytes, `full ${full} B, lean ${lean} B`);
  // A clone shares its buffer: the tracked peak grows by one buffer, not two.
  const x = tf.zeros([1000]); // [1000]
  const { peakBytes } = await measurePeakBytes(() => {
    const y = tf.clone(x); // [1000] (same buffer)
    const z = tf.neg(x); // [1000] (new buffer)
    tf.dispose([y, z]);
  });
  t.is(peakBytes, tf.memory().numBytes + 4000);
  tf.dispose([x, ids, am]);
  model.dispose();
});

test.serial('estimate: parts add up; strategies shrink what they should', (t) => {
  const neo = parseHfConfig(knownConfig('gpt-neo-125M')!);
  const work = { miniBatchSize: 4, seqLen: 70 };
  const none = estimateMemory(neo, work);
  const params = 125_198_592; // GPT-Neo 125M without value head (tied embeddings)
  t.is(none.policyBytes, params * 4);
  t.is(none.referenceBytes, (params + 769) * 4);
  t.is(none.optimiserBytes, 2 * (params + 769) * 4);
  const bf = estimateMemory(neo, work, { ...defaultMemoryPlan(), frozenStorage: 'bfloat16', roundTrainableToBf16: true });
  t.true(bf.referenceOnHost);
  t.is(bf.referenceBytes * 2, none.referenceBytes);
  t.is(bf.backendBytes, none.backendBytes - none.referenceBytes);
  const shared = estimateMemory(neo, work, { ...defaultMemoryPlan(), numSharedLayers: 6 });
  t.true(shared.referenceBytes < none.referenceBytes / 2 && shared.optimiserBytes < none.optimiserBytes / 2);
  const ck = estimateMemory(neo, work, { ...defaultMemoryPlan(), checkpointBlocks: true });
  t.true(ck.activationBytes < none.activationBytes);
  const fullHead = estimateMemory(neo, { ...work, leanHead: false });
  t.true(fullHead.lossHeadBytes > 5 * none.lossHeadBytes);
  t.is(parseBytes('4GiB'), WASM_HEAP_LIMIT);
  t.is(parseBytes('512 MiB'), 512 * 2 ** 20);
  t.is(parseBytes('2GB'), 2e9);
  t.throws(() => parseBytes('lots'), { message: /--budget: expected a size like 4GiB/ });
});

test.serial('detox-lab plan: a real-model recipe without weights, a budget, and which strategies fit', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-plan-'));
  try {
    const exp = path.join(dir, 'exp.json');
    fs.writeFileSync(
      exp,
      JSON.stringify({
        $import: path.resolve('experiments/gpt-neo-125m.json'),
        ppo: { miniBatchSize: 16, batchSize: 16 },
        memory: [{ type: 'shared-layers', numSharedLayers: 4 }],
      }),
    );
    const r = spawnSync(process.execPath, ['bin/detox-lab.js', 'plan', exp, '--budget', '2GiB'], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /published config of gpt-neo-125M/);
    t.regex(r.stdout, /12 layers, d 768, 12 heads, vocab 50257/);
    t.regex(r.stdout, /mini-batch 16 x 70 tokens/);
    t.regex(r.stdout, /policy\s+477\.6 MiB/);
    t.regex(r.stdout, /configured memory strategies: shared-layers \(shared layers 4/);
    t.regex(r.stdout, /none\s+.*\bno$/m);
    t.regex(r.stdout, /does NOT fit \(budget 2\.00 GiB, wasm heap limit 4\.00 GiB\); these would: .*all three/);
    const bad = spawnSync(process.execPath, ['bin/detox-lab.js', 'plan', exp, '--budget', 'lots'], { encoding: 'utf8' });
    t.not(bad.status, 0);
    t.regex(bad.stderr, /--budget: expected a size/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
