import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { definePlugin } from '../../core/plugin/define.js';
import { prepareExperiment, ConfigError } from '../../core/config/prepare.js';
import { create } from '../../core/di/container.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import { tmpProject, fixture, ROOT } from '../helpers/tmp.js';

// Plugins that are only validated, never built, in these tests (create() is not reached).
const configOnly = (kind: 'policy' | 'reward-model' | 'dataset' | 'optimiser', name: string) =>
  definePlugin({
    kind,
    name,
    description: 't',
    options: z.object({}),
    create: () => {
      throw new Error('unused');
    },
  });
const builtins = [configOnly('policy', 'p'), configOnly('reward-model', 'r'), configOnly('dataset', 'd'), configOnly('optimiser', 'o')];

function project(pluginsList: unknown, transform: object) {
  const source = fs
    .readFileSync(fixture('plugins', 'clipped-reward.mjs'), 'utf8')
    .replace('DETOX_LAB', pathToFileURL(path.join(ROOT, 'dist/core/index.js')).href);
  return tmpProject({
    'my-plugins/clipped-reward.mjs': source,
    '.detoxrc.json': {
      plugins: pluginsList,
      policy: { type: 'p' },
      reward: { model: { type: 'r' }, transform },
      data: { dataset: { type: 'd' } },
      optimiser: { type: 'o' },
    },
  });
}

test('a plugin module outside the repo is loaded and selectable by type', async (t) => {
  const cwd = project(['./my-plugins/clipped-reward.mjs'], { type: 'clipped-logit', limit: 2 });
  const { config, registry } = await prepareExperiment({ cwd, builtins });
  t.deepEqual(config.reward.transform, { type: 'clipped-logit', limit: 2 });
  const ctx = { configDir: cwd, seed: 0, trainSteps: 1, backend: 'cpu', memoryPlan: defaultMemoryPlan(), log: () => {} };
  const transform = await create(registry, 'reward-transform', config.reward.transform, ctx);
  t.deepEqual(
    transform.transform(
      [
        [5, 0],
        [-1, 1],
        [-9, 0],
      ],
      0,
    ),
    [2, -1, -2],
  );
});

test("its options are validated like a built-in's", async (t) => {
  const cwd = project(['./my-plugins/clipped-reward.mjs'], { type: 'clipped-logit', limit: -1 });
  const err = await t.throwsAsync(prepareExperiment({ cwd, builtins }));
  t.true(err instanceof ConfigError);
  t.is((err as ConfigError).issues[0]!.path, 'reward.transform.limit');
});

test('a missing or malformed plugin module is a config error naming it', async (t) => {
  const e1 = await t.throwsAsync(prepareExperiment({ cwd: project(['./nope.mjs'], { type: 'clipped-logit' }), builtins }));
  t.regex(e1!.message, /plugins: cannot load "\.\/nope\.mjs"/);
  const cwd = project(['./bad.mjs'], { type: 'clipped-logit' });
  fs.writeFileSync(path.join(cwd, 'bad.mjs'), 'export default { hello: 1 };');
  const e2 = await t.throwsAsync(prepareExperiment({ cwd, builtins }));
  t.regex(e2!.message, /"\.\/bad\.mjs" must default-export a plugin definition/);
  const e3 = await t.throwsAsync(prepareExperiment({ cwd: project('./x.mjs', { type: 'clipped-logit' }), builtins }));
  t.is((e3 as ConfigError).issues[0]!.path, 'plugins');
});
