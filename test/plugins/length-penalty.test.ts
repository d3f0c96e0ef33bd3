/**
 * The README's worked example of the `reward` hook point, experiments/plugins/length-penalty.mjs: called directly on
 * literal rewards, loaded by experiments/length-penalty.json (a `./` path next to the experiment file), and run end to
 * end with one and with two worker threads (the hf-classifier then scores on the workers): PPO receives the shaped
 * rewards, sample for sample.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { prepareExperiment } from '../../core/config/prepare.js';
import { create } from '../../core/di/container.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import type { RewardContext } from '../../core/interfaces/reward.js';
import { builtinPlugins } from '../../plugins/index.js';
import { ROOT, fixture } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const DETOX_LAB = pathToFileURL(path.join(ROOT, 'dist/core/index.js')).href;
const ctx = (configDir: string) => ({ configDir, seed: 0, trainSteps: 1, backend: 'cpu', memoryPlan: defaultMemoryPlan(), log: () => {} });

test('experiments/length-penalty.json loads its plugin from next to it; the hook subtracts perToken beyond freeTokens', async (t) => {
  const { config, registry, raw } = await prepareExperiment({ file: 'experiments/length-penalty.json', builtins: builtinPlugins });
  t.deepEqual(config.plugins, ['./experiments/plugins/length-penalty.mjs']); // rewritten against the project root
  // Listing only your own hook keeps the built-in output hooks, ahead of it.
  t.deepEqual(
    config.hooks.map((h) => h.type),
    ['tensorboard', 'samples', 'console', 'length-penalty'],
  );
  t.deepEqual(config.hooks[3], { type: 'length-penalty', perToken: 0.05, freeTokens: 20 });
  const hook = await create(registry, 'hook', config.hooks[3]!, ctx(raw.baseDir), 'hooks.3');
  const context = {
    responseTokens: [18, 20, 21, 29],
    prompts: [],
    responses: [],
    promptTokens: [],
    logits: [],
    rewardModel: { name: 'm', labels: [], neutralIndex: 0 },
    step: 1,
  } as RewardContext;
  const out = await hook.onReward!([1.65, 1.65, -0.5, 2], context);
  t.deepEqual(out, [1.65, 1.65, -0.5 - 0.05, 2 - 0.05 * 9]);
});

function project(workers: number) {
  return tinyProject((p) => {
    const base = tinyExperiment(p, {
      workers,
      train: { steps: 2, checkpointEvery: 0, sampleEvery: 1, progress: false },
      eval: { enabled: false, maxNewTokens: 4, batchSize: 4 },
      generation: { responseTokens: [3, 9] },
    }) as Record<string, unknown>;
    return {
      ...base,
      plugins: ['./plugins/length-penalty.mjs', './plugins/reward-probes.mjs'],
      hooks: [
        { type: 'length-penalty', perToken: 0.25, freeTokens: 4 },
        { type: 'record-rewards', file: 'seen.jsonl' },
      ],
    };
  });
}

for (const workers of [1, 2]) {
  test(`workers ${workers}: PPO trains on the length-penalised rewards (samples.jsonl, every sample)`, async (t) => {
    const dir = await project(workers);
    fs.mkdirSync(path.join(dir, 'plugins'));
    const copy = (from: string, to: string) =>
      fs.writeFileSync(
        path.join(dir, 'plugins', to),
        fs.readFileSync(from, 'utf8').replace(/from 'detox-lab';|from 'DETOX_LAB';/g, `from '${DETOX_LAB}';`),
      );
    copy(path.join(ROOT, 'experiments/plugins/length-penalty.mjs'), 'length-penalty.mjs');
    copy(fixture('plugins', 'reward-probes.mjs'), 'reward-probes.mjs');
    const r = spawnSync(process.execPath, [CLI, 'run'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    t.is(r.status, 0, r.stderr);
    if (workers > 1) t.regex(r.stderr, /workers: 2 threads/);
    const samples = fs
      .readFileSync(path.join(dir, 'runs/tiny/main/samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const seen = fs
      .readFileSync(path.join(dir, 'seen.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.is(samples.length, 8);
    t.deepEqual(
      seen.map((s) => s.step),
      [1, 2],
    );
    let penalised = 0;
    samples.forEach((s, k) => {
      const step = seen[Math.floor(k / 4)];
      const i = k % 4;
      t.is(s.prompt, step.prompts[i]);
      t.is(s.response, step.responses[i]);
      t.true(step.promptTokens[i] > 0 && step.responseTokens[i] >= 0);
      const expected = s.transformScore - 0.25 * Math.max(0, step.responseTokens[i] - 4);
      t.is(s.score, expected); // what PPO was given ...
      t.is(step.rewards[i], expected); // ... is what the next hook saw (record-rewards runs after length-penalty) ...
      t.is(s.reward, Math.fround(expected)); // ... and what the PPO step used (no score scaling: float32 of it)
      if (s.score !== s.transformScore) penalised++;
    });
    t.true(penalised > 0, 'some responses were longer than freeTokens');
  });
}
