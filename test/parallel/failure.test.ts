import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { PpoStepper } from '../../core/ppo/step.js';
import { ParallelCompute } from '../../core/parallel/parallel-compute.js';
import { WorkerCrashError } from '../../core/parallel/errors.js';
import { liveWorkerThreads } from '../../core/parallel/pool.js';
import { Rng } from '../../core/util/rng.js';
import { buildMain, fixedBatch, maxWeightDiff, tinySetup } from './setup.js';

for (const mode of ['throw', 'exit'] as const) {
  // Serial: the test counts the thread's tensors.
  test.serial(
    `a worker that fails (${mode}) mid-step: the step finishes on the main thread, the failure names the worker, no thread is left`,
    async (t) => {
      const { dir, prepared } = await tinySetup();
      const cfg = prepared.config;
      const one = await buildMain(prepared, dir);
      const many = await buildMain(prepared, dir);
      // Rank 1 fails on its second gradient request: the first mini-batch was already applied from both ranks.
      const compute = await ParallelCompute.start({
        config: cfg,
        configDir: dir,
        plugins: prepared.registry,
        policy: many.policy,
        workers: 2,
        fault: { rank: 1, op: 'gradients', after: 2, mode },
      });
      try {
        const a = new PpoStepper(one.policy, one.optimiser, one.memory, cfg.ppo, new Rng(2));
        const b = new PpoStepper(many.policy, many.optimiser, many.memory, cfg.ppo, new Rng(2), compute);
        const { queries, responses, scores } = fixedBatch(cfg.ppo.batchSize);
        const c0 = tf.memory().numTensors;
        const ra = await a.step(queries, responses, scores);
        const c1 = tf.memory().numTensors;
        const rb = await b.step(queries, responses, scores);
        const c2 = tf.memory().numTensors;
        t.true(compute.failure instanceof WorkerCrashError);
        t.is(compute.failure!.rank, 1);
        t.regex(
          compute.failure!.message,
          mode === 'throw'
            ? /^worker thread 1 failed: injected test fault in gradients request 2$/
            : /^worker thread 1 failed: exited unexpectedly with code 3$/,
        );
        t.is(compute.liveThreads, 0, 'the pool was closed on the failure');
        // The step is still the same step: the fallback computes exactly what the ranks would have.
        t.true(
          Math.abs(rb.scalars['ppo/loss/total']! - ra.scalars['ppo/loss/total']!) <= 1e-5 * Math.abs(ra.scalars['ppo/loss/total']!) + 1e-7,
        );
        t.true(maxWeightDiff(many.policy, one.policy) <= 1e-5);
        t.is(c2 - c1, c1 - c0, "the failed step kept no more tensors (Adam's moments) than the single-thread one");
        // Later work stays on the main thread.
        await b.step(queries, responses, scores);
        t.is(compute.liveThreads, 0);
      } finally {
        await compute.close();
      }
    },
  );
}

test.serial('a replica that cannot be built fails the start with a message naming the worker, and leaves no thread', async (t) => {
  const { dir, prepared } = await tinySetup();
  const main = await buildMain(prepared, dir);
  // The workers read this folder when they build their replica; main already has its policy.
  const fs = await import('node:fs');
  const path = await import('node:path');
  fs.rmSync(path.join(dir, 'models/policy/model.safetensors'));
  const before = liveWorkerThreads();
  const err = await t.throwsAsync(
    ParallelCompute.start({ config: prepared.config, configDir: dir, plugins: prepared.registry, policy: main.policy, workers: 3 }),
  );
  t.true(err instanceof WorkerCrashError);
  t.regex(err!.message, /^worker thread [12] failed: could not build its policy replica: .*model\.safetensors/);
  t.is(liveWorkerThreads(), before, 'both started threads were terminated');
});

test('requests to a failed worker reject at once instead of waiting', async (t) => {
  const { dir, prepared } = await tinySetup();
  const main = await buildMain(prepared, dir);
  const compute = await ParallelCompute.start({
    config: prepared.config,
    configDir: dir,
    plugins: prepared.registry,
    policy: main.policy,
    workers: 2,
    fault: { rank: 1, op: 'checksum', after: 1, mode: 'exit' },
  });
  try {
    const err = await t.throwsAsync(compute.checksums());
    t.regex(err!.message, /worker thread 1 failed: exited unexpectedly with code 3/);
    const again = await t.throwsAsync(compute.checksums());
    t.is(again!.message, err!.message);
  } finally {
    await compute.close();
  }
  t.is(compute.liveThreads, 0);
});
