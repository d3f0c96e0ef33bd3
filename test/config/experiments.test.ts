/**
 * Every shipped experiment file is a valid config, and every arm of every shipped grid validates, so
 * `detox-lab run experiments/<name>.json` never fails on the config itself.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { planAblation } from '../../core/config/ablate.js';
import { prepareExperiment } from '../../core/config/prepare.js';
import { builtinPlugins } from '../../plugins/index.js';

const files = fs
  .readdirSync('experiments')
  .filter((f) => f.endsWith('.json'))
  .sort();

test('the study recipes and ablations are all shipped', (t) => {
  for (const name of ['reward-transform', 'prompt-length', 'mini-batch-size', 'learning-rate', 'memory', 'gpt-neo-125m', 'gpt-j-6b']) {
    t.true(files.includes(`${name}.json`), `experiments/${name}.json`);
  }
});

for (const f of files) {
  test(`experiments/${f} validates (every arm of a grid too)`, async (t) => {
    const file = path.join('experiments', f);
    const plan = await planAblation({ file, builtins: builtinPlugins });
    if (plan) {
      t.true(plan.arms.length >= 2, `${f}: a grid has several arms`);
      t.is(plan.experiment, f.replace(/\.json$/, ''));
      for (const arm of plan.arms) t.is(path.basename(arm.runDir), arm.name);
    } else {
      const prepared = await prepareExperiment({ file, builtins: builtinPlugins });
      t.is(prepared.config.experiment, f.replace(/\.json$/, ''));
    }
  });
}

test('gpt-j-6b.json has the study settings (lr 2.94e-5, batch 16, mini-batch 4, 20 shared layers, bf16)', async (t) => {
  const { config } = await prepareExperiment({ file: 'experiments/gpt-j-6b.json', builtins: builtinPlugins });
  t.is(config.optimiser.learningRate, 2.94e-5);
  t.is(config.ppo.batchSize, 16);
  t.is(config.ppo.miniBatchSize, 4);
  t.is(config.ppo.ppoEpochs, 100);
  const memory = config.memory as { type: string; numSharedLayers?: number }[];
  t.deepEqual(memory.map((m) => m.type).sort(), ['bf16', 'shared-layers']);
  t.is(memory.find((m) => m.type === 'shared-layers')!.numSharedLayers, 20);
  t.is(config.reward.transform.type, 'raw-logit');
});
