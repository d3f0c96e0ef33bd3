import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { PpoStepper } from '../../core/ppo/step.js';
import { ParallelCompute } from '../../core/parallel/parallel-compute.js';
import { Rng } from '../../core/util/rng.js';
import { buildMain, fixedBatch, maxWeightDiff, tinySetup, worstRelative } from './setup.js';

// The wasm backend moves weights and gradients straight between its heap and shared memory (layout.ts): this file
// runs on it (its own process, since the backend is per process).
test('wasm backend: 2 ranks equal 1, replicas stay bit-identical to main, tensors stay flat', async (t) => {
  const { dir, prepared } = await tinySetup({ backend: 'wasm', matmul: 'js' });
  const cfg = prepared.config;
  const one = await buildMain(prepared, dir);
  t.is(tf.getBackend(), 'wasm');
  const many = await buildMain(prepared, dir);
  const compute = await ParallelCompute.start({
    config: cfg,
    configDir: dir,
    plugins: prepared.registry,
    policy: many.policy,
    workers: 2,
    backendOptions: { matmul: 'js' },
  });
  try {
    const a = new PpoStepper(one.policy, one.optimiser, one.memory, cfg.ppo, new Rng(7));
    const b = new PpoStepper(many.policy, many.optimiser, many.memory, cfg.ppo, new Rng(7), compute);
    const { queries, responses, scores } = fixedBatch(cfg.ppo.batchSize);
    const counts: number[] = [];
    for (let step = 1; step <= 3; step++) {
      const ra = await a.step(queries, responses, scores);
      const rb = await b.step(queries, responses, scores);
      const keys = [
        'ppo/loss/policy',
        'ppo/loss/value',
        'ppo/policy/entropy',
        'ppo/policy/approxkl',
        'objective/kl',
        'ppo/val/vpred',
        'ppo/returns/mean',
      ];
      const worst = worstRelative(rb.scalars, ra.scalars, keys);
      t.true(worst.err <= 1e-5, `step ${step}: ${worst.key} differs by ${worst.err}`);
      // The total is a difference of the two losses (here nearly cancelling): compare it on their scale.
      const scale = Math.abs(ra.scalars['ppo/loss/policy']!) + 0.1 * Math.abs(ra.scalars['ppo/loss/value']!);
      t.true(Math.abs(rb.scalars['ppo/loss/total']! - ra.scalars['ppo/loss/total']!) <= 1e-5 * scale, `step ${step}: ppo/loss/total`);
      const dw = maxWeightDiff(many.policy, one.policy);
      t.log(`step ${step}: weights differ by ${dw.toExponential(2)} (lr ${cfg.optimiser.learningRate})`);
      // Adam's update is lr·m/(√v + ε): where a gradient element is close to float32 noise, a different summation
      // order changes its update by a fraction of lr, and these differences add up over the updates (4 per step).
      // Bound: 5% of one update's size per step (measured 1.7e-5 = 1.7% of lr after step 1).
      const lr = cfg.optimiser.learningRate as number;
      t.true(dw <= 0.05 * lr * step, `step ${step}: weights differ by ${dw}`);
      const sums = await compute.checksums();
      t.deepEqual(sums.workers, [sums.main]);
      counts.push(tf.memory().numTensors);
    }
    t.deepEqual(counts.slice(1), [counts[0]!, counts[0]!]);
  } finally {
    await compute.close();
  }
});
