/**
 * Memory benchmark: peak backend bytes and time of one PPO-shaped training mini-batch step (forward with full
 * logits, log-softmax + entropy + value loss, gradients, Adam update, the strategies' after-update work) for no
 * strategy, each strategy alone and all three, next to `detox-lab plan`'s estimate of the same step. Models: a
 * gpt-neo-125M-shaped model (random weights, made in memory) and the M config (4 layers, d 256, 8 heads, vocab 4096).
 *
 * Run: `node dist/bench/memory.js [M|125M]` (after tsc), or import { benchMemory }. Each arm runs in its own process
 * (a wasm heap never shrinks, so arms in one process would see each other's high-water marks and fragmentation).
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../core/model/wasm/backend.js';
import { CausalLM } from '../core/model/causal-lm.js';
import { FusedAdam } from '../core/model/wasm/fused-adam.js';
import { makeConfig, parseHfConfig, type TransformerConfig } from '../core/model/arch/hf-config.js';
import { applyMemoryPlan } from '../core/model/policy.js';
import { roundVariablesToBf16 } from '../core/model/memory/bf16.js';
import { SeededRandom } from '../core/model/seeded-random.js';
import { KNOWN_CONFIGS } from '../core/memory/known-configs.js';
import { estimateMemory, formatBytes, strategyPlans } from '../core/memory/estimate.js';
import type { MemoryPlan } from '../core/interfaces/memory.js';
import { logitsEntropy, logprobsFromLogitsTf } from '../core/ppo/batch.js';
import { leanTokenStats } from '../core/model/memory/loss-head.js';
import { measurePeakBytes } from '../core/memory/peak-bytes.js';

/** One benchmark shape. */
interface Shape {
  name: string;
  cfg: TransformerConfig;
  batch: number;
  seq: number;
}

const SHAPES: Record<'M' | '125M', () => Shape> = {
  M: () => ({ name: 'M', cfg: makeConfig({ vocabSize: 4096, nPositions: 64, dModel: 256, nHeads: 8, nLayers: 4 }), batch: 8, seq: 64 }),
  '125M': () => ({ name: 'gpt-neo-125M', cfg: parseHfConfig(KNOWN_CONFIGS['gpt-neo-125m']!), batch: 2, seq: 64 }),
};

/** One row of the benchmark. */
interface MemoryBenchRow {
  model: string;
  strategies: string;
  /** Peak bytes of distinct backend buffers during the step (core/memory/peak-bytes.ts). */
  peakBytes: number;
  /** Host bytes of packed bfloat16 weights. */
  hostBytes: number;
  /** The plan's estimate of the same (backend part). */
  estimateBytes: number;
  stepMs: number;
}

/**
 * A PPO-shaped mini-batch loss: -A·logp + value loss, with the entropy computed as the trainer does. `lean` uses
 * the chunked loss head (the trainer's path unless ppo.klPenalty is 'full'); otherwise the full [b, T, V] logits.
 */
function stepLoss(model: CausalLM, ids: tf.Tensor2D, am: tf.Tensor2D, adv: tf.Tensor2D, returns: tf.Tensor2D, lean: boolean): tf.Scalar {
  const [b, L] = ids.shape;
  const T = L - 1;
  const labels = tf.slice(ids, [0, 1], [b, T]) as tf.Tensor2D; // [b, T]
  let logp: tf.Tensor2D;
  let entropy: tf.Tensor2D;
  let v: tf.Tensor;
  if (lean) {
    const hidden = model.hiddenStates(ids, am); // [b, L, d]
    const h = tf.slice(hidden, [0, 0, 0], [b, T, -1]) as tf.Tensor3D; // [b, T, d]
    ({ logprobs: logp, entropy } = leanTokenStats(h, model.outputEmbedding(), labels)); // [b, T] each
    v = model.valueHead(h); // [b, T]
  } else {
    const { logits, values } = model.forward(ids, am); // [b, L, V], [b, L]
    const lg = tf.slice(logits, [0, 0, 0], [b, T, -1]) as tf.Tensor3D; // [b, T, V]
    logp = logprobsFromLogitsTf(lg, labels); // [b, T]
    entropy = logitsEntropy(lg); // [b, T]
    v = tf.slice(values, [0, 0], [b, T]); // [b, T]
  }
  const pg = tf.neg(tf.mean(tf.mul(logp, adv))); // []
  const vf = tf.mean(tf.square(tf.sub(v, returns))); // []
  return tf.add(tf.add(pg, tf.mul(vf, 0.1)), tf.mul(tf.mean(entropy), 0)) as tf.Scalar; // []
}

async function measure(shape: Shape, label: string, plan: MemoryPlan, steps: number, lean: boolean): Promise<MemoryBenchRow> {
  const { cfg, batch, seq } = shape;
  const model = CausalLM.random(cfg, { seed: 1 });
  applyMemoryPlan(model, plan);
  const rng = new SeededRandom(2);
  const ids = tf.tensor2d(
    Int32Array.from({ length: batch * seq }, () => Math.floor(rng.next() * cfg.vocabSize)),
    [batch, seq],
    'int32',
  ); // [b, L]
  const am = tf.ones([batch, seq], 'int32') as tf.Tensor2D; // [b, L]
  const adv = tf.tensor2d(rng.normalArray(batch * (seq - 1), 1), [batch, seq - 1]); // [b, T]
  const returns = tf.tensor2d(rng.normalArray(batch * (seq - 1), 1), [batch, seq - 1]); // [b, T]
  const opt = new FusedAdam(1e-5);
  const vars = model.trainableVariables();
  const step = () => {
    const { value, grads } = tf.variableGrads(() => stepLoss(model, ids, am, adv, returns, lean), vars);
    opt.applyGradients(grads);
    if (plan.roundTrainableToBf16) roundVariablesToBf16(vars);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step(); // warm-up: creates the optimiser's moments
  const times: number[] = [];
  let peak = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const { peakBytes } = await measurePeakBytes(step);
    times.push(performance.now() - t0);
    peak = Math.max(peak, peakBytes);
  }
  const hostBytes = model.reference!.memoryFootprint().packedBytes;
  opt.dispose();
  tf.dispose([ids, am, adv, returns]);
  model.dispose();
  const est = estimateMemory(cfg, { miniBatchSize: batch, seqLen: seq, leanHead: lean }, plan);
  times.sort((a, b) => a - b);
  return {
    model: shape.name,
    strategies: label,
    peakBytes: peak,
    hostBytes,
    estimateBytes: est.backendBytes,
    stepMs: times[times.length >> 1]!,
  };
}

type ShapeName = keyof typeof SHAPES;

/** The arms of a shape: the trainer's former full-logits head, then none / each strategy / all three (lean head). */
function arms(shape: Shape): { name: string; plan: MemoryPlan; lean: boolean }[] {
  const plans = strategyPlans(shape.cfg);
  return [{ name: 'none, full logits', plan: plans[0]!.plan, lean: false }, ...plans.map((a) => ({ ...a, lean: true }))];
}

/** Runs one arm in this process (the wasm heap never shrinks, so each arm gets a fresh process). */
async function runArm(which: ShapeName, index: number, steps: number): Promise<MemoryBenchRow> {
  await initBackend('wasm');
  tf.env().set('PROD', true);
  const shape = SHAPES[which]();
  const arm = arms(shape)[index]!;
  return measure(shape, arm.name, arm.plan, steps, arm.lean);
}

/**
 * Runs the benchmark (each arm in a child process) and prints a table.
 * @param which shapes to run (default both)
 * @param steps measured steps per row (median time, max peak)
 */
export async function benchMemory(which: ShapeName[] = ['M', '125M'], steps = 2): Promise<MemoryBenchRow[]> {
  const rows: MemoryBenchRow[] = [];
  const self = fileURLToPath(import.meta.url);
  console.log(
    `${'model'.padEnd(14)}${'strategies'.padEnd(20)}${'peak'.padStart(12)}${'estimate'.padStart(12)}${'est/peak'.padStart(10)}${'host bf16'.padStart(12)}${'step'.padStart(10)}`,
  );
  for (const w of which) {
    const n = arms(SHAPES[w]()).length;
    for (let i = 0; i < n; i++) {
      const child = spawnSync(process.execPath, [self, '--arm', w, String(i), String(steps)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
      if (child.status !== 0 || !line) {
        console.log(
          `${w} arm ${i}: failed (${(
            child.stderr
              .trim()
              .split('\n')
              .find((l) => /Error/.test(l)) ?? `exit ${child.status}`
          ).slice(0, 200)})`,
        );
        continue;
      }
      const r = JSON.parse(line) as MemoryBenchRow;
      rows.push(r);
      console.log(
        `${r.model.padEnd(14)}${r.strategies.padEnd(20)}${formatBytes(r.peakBytes).padStart(12)}${formatBytes(r.estimateBytes).padStart(12)}` +
          `${(r.estimateBytes / r.peakBytes).toFixed(2).padStart(10)}${formatBytes(r.hostBytes).padStart(12)}${`${r.stepMs.toFixed(0)} ms`.padStart(10)}`,
      );
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args[0] === '--arm') {
    process.stdout.write(`${JSON.stringify(await runArm(args[1] as ShapeName, Number(args[2]), Number(args[3])))}\n`);
  } else {
    const which: ShapeName[] = args[0] === 'M' || args[0] === '125M' ? [args[0]] : ['M', '125M'];
    await benchMemory(which, args[0] === '125M' ? 1 : 2);
  }
}
