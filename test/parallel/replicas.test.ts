import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareExperiment } from '../../core/config/prepare.js';
import { builtinPlugins } from '../../plugins/index.js';
import * as tf from '@tensorflow/tfjs';
import { PpoStepper } from '../../core/ppo/step.js';
import { ParallelCompute } from '../../core/parallel/parallel-compute.js';
import { weightsChecksum } from '../../core/parallel/layout.js';
import { Rng } from '../../core/util/rng.js';
import { buildPluginContext, create } from '../../core/di/container.js';
import type { SlotConfig } from '../../core/config/schema.js';
import { buildMain, fixedBatch, tinySetup } from './setup.js';

// Serial: the test counts the thread's tensors.
test.serial("every replica holds exactly main's weights after each step, and no tensors leak on any thread", async (t) => {
  const { dir, prepared } = await tinySetup();
  const cfg = prepared.config;
  const main = await buildMain(prepared, dir);
  const compute = await ParallelCompute.start({ config: cfg, configDir: dir, plugins: prepared.registry, policy: main.policy, workers: 3 });
  try {
    const initial = weightsChecksum(main.policy.trainableVariables());
    const stepper = new PpoStepper(main.policy, main.optimiser, main.memory, cfg.ppo, new Rng(1), compute);
    const { queries, responses, scores } = fixedBatch(cfg.ppo.batchSize);
    const mainTensors: number[] = [];
    const workerTensors: number[][] = [];
    for (let step = 0; step < 3; step++) {
      await stepper.step(queries, responses, scores);
      mainTensors.push(tf.memory().numTensors);
      workerTensors.push(await compute.workerTensors());
      const sums = await compute.checksums();
      t.not(sums.main, initial, 'the step changed the weights');
      t.deepEqual(sums.workers, [sums.main, sums.main], `step ${step + 1}: replica checksums`);
    }
    t.deepEqual(mainTensors.slice(1), [mainTensors[0]!, mainTensors[0]!], `main thread tensors per step: ${mainTensors}`);
    t.deepEqual(
      workerTensors.slice(1),
      [workerTensors[0]!, workerTensors[0]!],
      `worker tensors per step: ${JSON.stringify(workerTensors)}`,
    );
  } finally {
    await compute.close();
  }
});

test('split sampling is deterministic for a worker count and returns one response per prompt, in order', async (t) => {
  const { dir, prepared } = await tinySetup();
  const main = await buildMain(prepared, dir);
  const compute = await ParallelCompute.start({
    config: prepared.config,
    configDir: dir,
    plugins: prepared.registry,
    policy: main.policy,
    workers: 2,
  });
  try {
    const prompts = fixedBatch(5).queries;
    const run = async () => {
      const rng = new Rng(9);
      const out = await compute.generate(prompts, { maxNewTokens: 6, rng });
      return { out, next: rng.next() };
    };
    const a = await run();
    const b = await run();
    t.deepEqual(a, b);
    t.is(a.out.length, 5);
    t.true(a.out.every((r) => r.length >= 1 && r.length <= 6));
    // Rank 0 samples the first share with the first seed drawn from the caller's generator.
    const rng = new Rng(9);
    const seed0 = rng.next() * 2 ** 53;
    const local = await main.policy.generate(prompts.slice(0, 3), { maxNewTokens: 6, rng: new Rng(seed0) });
    t.deepEqual(a.out.slice(0, 3), local);
  } finally {
    await compute.close();
  }
});

test('memory strategies: bf16 rounding and shared layers run on main before the broadcast; replicas follow exactly', async (t) => {
  const { dir, prepared } = await tinySetup({ memory: [{ type: 'shared-layers', numSharedLayers: 1 }, { type: 'bf16' }] });
  const cfg = prepared.config;
  const main = await buildMain(prepared, dir);
  const compute = await ParallelCompute.start({ config: cfg, configDir: dir, plugins: prepared.registry, policy: main.policy, workers: 2 });
  try {
    const stepper = new PpoStepper(main.policy, main.optimiser, main.memory, cfg.ppo, new Rng(1), compute);
    const { queries, responses, scores } = fixedBatch(cfg.ppo.batchSize);
    for (let step = 0; step < 2; step++) {
      const r = await stepper.step(queries, responses, scores);
      t.true(Number.isFinite(r.scalars['ppo/loss/total']!));
      const sums = await compute.checksums();
      t.deepEqual(sums.workers, [sums.main]);
    }
    // Pure bf16: every trainable weight is a bfloat16 value (low 16 bits zero) after the updates.
    for (const v of main.policy.trainableVariables()) {
      const bits = new Uint32Array(Float32Array.from(v.dataSync()).buffer);
      t.true(
        bits.every((b) => (b & 0xffff) === 0),
        v.name,
      );
    }
  } finally {
    await compute.close();
  }
});

test('TF-based scoring (hf-classifier) is split between the threads and equals main-thread scoring', async (t) => {
  const { dir, prepared } = await tinySetup();
  const main = await buildMain(prepared, dir);
  const { ctx } = await buildPluginContext(prepared.config, prepared.registry, { configDir: dir, log: () => {} });
  const classifier = await create(prepared.registry, 'reward-model', prepared.config.reward.model as SlotConfig, ctx);
  const compute = await ParallelCompute.start({
    config: prepared.config,
    configDir: dir,
    plugins: prepared.registry,
    rewardModel: classifier,
    policy: main.policy,
    workers: 3,
  });
  try {
    t.true(compute.splitsScoring);
    const texts = ['you are an idiot', 'what a lovely day', 'shut up', 'thanks for the help, friend', 'go to hell'];
    const local = await classifier.classify(texts);
    const split = await compute.classify(texts, classifier);
    t.is(split.length, texts.length);
    split.forEach((row, i) =>
      row.forEach((x, j) =>
        t.true(Math.abs(x - local[i]![j]!) <= 1e-5 * (1 + Math.abs(local[i]![j]!)), `text ${i} logit ${j}: ${x} vs ${local[i]![j]}`),
      ),
    );
    t.true(
      local.some((row) => row[0] !== local[0]![0]),
      'the texts score differently',
    );
  } finally {
    await compute.close();
    classifier.dispose?.();
  }
});

// A reward model of the user's own, loaded from the config's `plugins` list: workers rebuild main's registry from its
// module URLs, so they build it too, and it scores on the workers only because it declares `scoresOnWorkers`.
async function userScorerSetup(scoresOnWorkers: boolean) {
  const { dir } = await tinySetup();
  const door = pathToFileURL(path.resolve('dist/core/index.js')).href;
  fs.writeFileSync(
    path.join(dir, 'thread-scorer.mjs'),
    `import { threadId } from 'node:worker_threads';
import { definePlugin, z } from ${JSON.stringify(door)};
export default definePlugin({
  kind: 'reward-model', name: 'thread-scorer', description: 'scores each text with the id of the thread that scored it',
  options: z.object({}),
  create: () => ({
    name: 'thread-scorer', labels: ['neutral', 'toxic'], neutralIndex: 0, ${scoresOnWorkers ? 'scoresOnWorkers: true,' : ''}
    classify: async (texts) => texts.map(() => [threadId, 0]),
  }),
});
`,
  );
  const rc = JSON.parse(fs.readFileSync(path.join(dir, '.detoxrc.json'), 'utf8'));
  fs.writeFileSync(
    path.join(dir, '.detoxrc.json'),
    JSON.stringify({ ...rc, plugins: ['./thread-scorer.mjs'], reward: { ...rc.reward, model: { type: 'thread-scorer' } } }),
  );
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), builtins: builtinPlugins });
  const main = await buildMain(prepared, dir);
  const { ctx } = await buildPluginContext(prepared.config, prepared.registry, { configDir: dir, log: () => {} });
  const scorer = await create(prepared.registry, 'reward-model', prepared.config.reward.model as SlotConfig, ctx);
  const compute = await ParallelCompute.start({
    config: prepared.config,
    configDir: dir,
    plugins: prepared.registry,
    rewardModel: scorer,
    policy: main.policy,
    workers: 2,
  });
  return { prepared, scorer, compute };
}

test("a user plugin that declares scoresOnWorkers is built on the workers from the config's plugin modules and scores there", async (t) => {
  const { prepared, scorer, compute } = await userScorerSetup(true);
  try {
    t.deepEqual(
      prepared.registry.moduleUrls().map((u) => path.basename(u)),
      ['index.js', 'thread-scorer.mjs'],
      'built-ins, then the user module',
    );
    t.true(compute.splitsScoring);
    const rows = await compute.classify(['a', 'b', 'c', 'd'], scorer);
    const threads = new Set(rows.map((r) => r[0]));
    t.true(threads.has(0), 'main scored its share');
    t.true(
      [...threads].some((id) => id !== 0),
      `a worker scored its share (threads ${[...threads].join(', ')})`,
    );
  } finally {
    await compute.close();
  }
});

test('a reward model that does not declare scoresOnWorkers scores on the main thread only', async (t) => {
  const { scorer, compute } = await userScorerSetup(false);
  try {
    t.false(compute.splitsScoring);
    const rows = await compute.classify(['a', 'b', 'c', 'd'], scorer);
    t.deepEqual(
      rows.map((r) => r[0]),
      [0, 0, 0, 0],
    );
  } finally {
    await compute.close();
  }
});
