/**
 * Throughput of one pretraining step at the default model size, on random tokens (no corpus needed):
 * forward + loss, forward + backward, and the full step (AdamW update included), in target tokens per second.
 *
 *   node dist/bench/pretrain.js [backend=wasm] [batchSize=16] [steps=5]
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '../core/model/wasm/backend.js';
import { CausalLM } from '../core/model/causal-lm.js';
import { makeConfig } from '../core/model/arch/hf-config.js';
import { VHEAD_BIAS, VHEAD_WEIGHT } from '../core/model/arch/weight-names.js';
import { AdamW } from '../core/optim/adam.js';
import { causalLmLoss } from '../core/pretrain/lm-loss.js';
import { PRETRAIN_DEFAULTS as D } from '../core/pretrain/command.js';

/** One measured phase: milliseconds per call and target tokens per second. */
export interface PhaseFigure {
  ms: number;
  tokensPerSecond: number;
}

/** Measures the phases of a pretraining step; `steps` timed calls after one warm-up call each. */
export async function benchPretrainStep(backend: BackendName, batchSize: number, steps: number): Promise<Record<string, PhaseFigure>> {
  await initBackend(backend);
  const T = D.seqLen;
  const cfg = makeConfig({ vocabSize: D.vocabSize, nPositions: D.context, dModel: D.dModel, nHeads: D.nHeads, nLayers: D.nLayers });
  tf.engine().startScope();
  const model = CausalLM.random(cfg, { seed: 0 });
  tf.engine().endScope();
  const vars = [...model.namedWeights()].filter(([n]) => n !== VHEAD_WEIGHT && n !== VHEAD_BIAS).map(([, v]) => v);
  const opt = new AdamW({ learningRate: 1e-3, betas: D.betas, eps: 1e-8, weightDecay: D.weightDecay });
  const x = tf.randomUniform([batchSize, T], 0, cfg.vocabSize, 'int32') as tf.Tensor2D; // [B, T]
  const y = tf.randomUniform([batchSize, T], 0, cfg.vocabSize, 'int32') as tf.Tensor2D; // [B, T]
  const time = async (fn: () => Promise<void>): Promise<PhaseFigure> => {
    await fn();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await fn();
    const ms = (performance.now() - t0) / steps;
    return { ms, tokensPerSecond: (batchSize * T) / (ms / 1000) };
  };
  const forward = await time(async () => {
    const loss = causalLmLoss(model, x, y); // []
    await loss.data();
    loss.dispose();
  });
  const backward = await time(async () => {
    const { value, grads } = tf.variableGrads(() => causalLmLoss(model, x, y), vars); // value [], grads[name] shaped as the variable
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  });
  const step = await time(async () => {
    const { value, grads } = tf.variableGrads(() => causalLmLoss(model, x, y), vars); // value [], grads[name] shaped as the variable
    opt.apply(
      vars,
      vars.map((v) => grads[v.name]!),
    );
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return { forward, forwardBackward: backward, step };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [backend = 'wasm', b = '16', s = '5'] = process.argv.slice(2);
  const figures = await benchPretrainStep(backend as BackendName, Number(b), Number(s));
  console.log(`pretrain step, ${D.nLayers} layers d ${D.dModel} vocab ${D.vocabSize}, batch ${b} × ${D.seqLen} tokens on ${backend}:`);
  for (const [k, f] of Object.entries(figures))
    console.log(`  ${k.padEnd(16)} ${f.ms.toFixed(0).padStart(6)} ms  ${f.tokensPerSecond.toFixed(0).padStart(6)} tokens/s`);
}
