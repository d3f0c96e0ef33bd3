/**
 * Relative paths resolve against the config file that wrote them: `./x` and `../x` against its folder, other
 * relative paths against its project root. The project's own configs keep their meaning (and their values), an
 * `$import`ed config from another folder keeps its own, and `--dry-run` checks that the paths exist.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { z } from 'zod';
import { definePlugin, pathOption, isPathOption, type AnyPluginDefinition } from '../../core/plugin/define.js';
import { missingPaths, prepareExperiment, resolvePathValue, runDirOf } from '../../core/config/prepare.js';
import { builtinPlugins } from '../../plugins/index.js';
import { ROOT, tmpProject } from '../helpers/tmp.js';

const plugins: AnyPluginDefinition[] = [
  definePlugin({
    kind: 'policy',
    name: 'p',
    description: 't',
    options: z.object({ path: z.string(), note: z.string().default('x') }),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'reward-model',
    name: 'r',
    description: 't',
    options: z.object({ weights: pathOption('weights file', 'file').optional() }),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'reward-transform',
    name: 't',
    description: 't',
    options: z.object({}),
    create: () => ({ name: 't', transform: (l) => l.map(() => 0) }),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'd',
    description: 't',
    options: z.object({ path: z.string() }),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'optimiser',
    name: 'o',
    description: 't',
    options: z.object({}),
    create: () => {
      throw new Error('x');
    },
  }),
];
const PLUGIN =
  "export default { kind: 'reward-transform', name: 'NAME', description: 't', options: { safeParse: (x) => ({ success: true, data: x }), parse: (x) => x, strict() { return this; } }, create: () => ({ name: 'NAME', transform: (l) => l.map(() => 1) }) };\n";

test('which options are paths: pathOption() (through optional/default) and string options named path', (t) => {
  t.true(isPathOption(plugins[0]!.options, 'path'));
  t.false(isPathOption(plugins[0]!.options, 'note'));
  t.true(isPathOption(plugins[1]!.options, 'weights'));
  t.true(isPathOption(z.object({ model: pathOption('m').default('a') }), 'model'));
  t.false(isPathOption(z.object({ path: z.number() }), 'path'));
});

test('resolvePathValue: ./ against the file, bare against its project root, unchanged when that is where it already pointed', (t) => {
  const root = tmpProject({ 'package.json': '{}', 'experiments/x.json': '{}', 'other/.detoxrc.json': '{}', 'other/sub/y.json': '{}' });
  const x = path.join(root, 'experiments/x.json');
  t.is(resolvePathValue('models/a', x, root), 'models/a');
  t.is(resolvePathValue('./a.mjs', x, root, true), './experiments/a.mjs');
  t.is(resolvePathValue('../a.txt', x, root), 'a.txt');
  t.is(resolvePathValue('lodash', x, root, true), 'lodash');
  const y = path.join(root, 'other/sub/y.json');
  t.is(resolvePathValue('models/a', y, root), path.join('other', 'models/a')); // other/ is that file's project root
  t.is(resolvePathValue('./p.mjs', y, root, true), './other/sub/p.mjs');
  t.is(resolvePathValue('/abs/a', y, root), '/abs/a');
  t.is(resolvePathValue('models/a', '--set', root), 'models/a');
});

test("an $import of another folder's .detoxrc.json keeps its paths (plugins, model, data, runsDir) pointing into that folder", async (t) => {
  const base = {
    plugins: ['./my-plugins/one.mjs', 'three-plugin'],
    runsDir: 'out',
    policy: { type: 'p', path: 'models/policy' },
    reward: { model: { type: 'r', weights: './w.bin' }, transform: { type: 'one' } },
    data: { dataset: { type: 'd', path: 'prompts.txt' } },
    optimiser: { type: 'o' },
  };
  const dir = tmpProject({
    'shared/.detoxrc.json': base,
    'shared/my-plugins/one.mjs': PLUGIN.replace(/NAME/g, 'one'),
    'shared/node_modules/three-plugin/package.json': { name: 'three-plugin', type: 'module', exports: './index.js' },
    'shared/node_modules/three-plugin/index.js': PLUGIN.replace(/NAME/g, 'three'),
    'shared/models/policy/config.json': '{}',
    'shared/w.bin': '',
    'shared/prompts.txt': 'a\n',
    'mine/package.json': '{}',
    'mine/exp/run.json': { $import: '../../shared/.detoxrc.json', experiment: 'e', data: { dataset: { path: 'local.txt' } } },
    'mine/local.txt': 'b\n',
  });
  const prepared = await prepareExperiment({ file: path.join(dir, 'mine/exp/run.json'), builtins: plugins });
  const { config, raw } = prepared;
  t.is(raw.baseDir, path.join(dir, 'mine'));
  // A package listed there is the one installed there.
  t.deepEqual(config.plugins, ['../shared/my-plugins/one.mjs', path.join(dir, 'shared/node_modules/three-plugin/index.js')]);
  t.true(prepared.registry.has('reward-transform', 'three'));
  t.is(config.runsDir, '../shared/out');
  t.is(config.policy.path, '../shared/models/policy');
  t.is((config.reward.model as unknown as { weights: string }).weights, '../shared/w.bin');
  t.is(config.data.dataset.path, 'local.txt'); // written by mine/exp/run.json: mine's project root
  t.is(config.reward.transform.type, 'one'); // the plugin module was found
  t.is(runDirOf(prepared), path.join(dir, 'shared/out/e/main'));
  t.deepEqual(missingPaths(prepared), []);
  fs.rmSync(path.join(dir, 'shared/w.bin'));
  t.deepEqual(
    missingPaths(prepared).map((i) => i.path),
    ['reward.model.weights'],
  );
  t.regex(missingPaths(prepared)[0]!.message, /^"\.\.\/shared\/w\.bin" does not exist \(looked for .*shared\/w\.bin;/);
});

test('"./x.mjs" next to an experiment file is that file\'s; --set values stay relative to the project root', async (t) => {
  const dir = tmpProject({
    'package.json': '{}',
    'models/m/x': '',
    'p.txt': 'a\n',
    '.detoxrc.json': {
      policy: { type: 'p', path: 'models/m' },
      reward: { model: { type: 'r' }, transform: { type: 't' } },
      data: { dataset: { type: 'd', path: 'p.txt' } },
      optimiser: { type: 'o' },
    },
    'experiments/plugins/two.mjs': PLUGIN.replace(/NAME/g, 'two'),
    'experiments/e.json': {
      $import: '../.detoxrc.json',
      experiment: 'e',
      plugins: ['./plugins/two.mjs'],
      reward: { transform: { type: 'two' } },
    },
  });
  const { config } = await prepareExperiment({
    file: path.join(dir, 'experiments/e.json'),
    builtins: plugins,
    set: ['data.dataset.path=./p.txt'],
  });
  t.deepEqual(config.plugins, ['./experiments/plugins/two.mjs']);
  t.is(config.reward.transform.type, 'two');
  t.is(config.policy.path, 'models/m');
  t.is(config.data.dataset.path, './p.txt');
});

test("the project's own configs keep every value as written", async (t) => {
  for (const file of [
    '.detoxrc.json',
    'experiments/gpt-neo-125m.json',
    'experiments/reward-transform.json',
    'experiments/model-selection.json',
  ]) {
    const { config, raw } = await prepareExperiment({ file, builtins: builtinPlugins });
    t.is(raw.baseDir, ROOT, file);
    const written = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (written.policy?.path) t.is(config.policy.path, written.policy.path, file);
    if (written.data?.dataset?.path) t.is(config.data.dataset.path, written.data.dataset.path, file);
    t.is(config.runsDir, 'runs', file);
  }
});

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');

test('detox-lab run --dry-run: a missing model or data path is a config error (exit 2) naming the field; existing paths pass', (t) => {
  const cfg = {
    backend: 'cpu',
    workers: 1,
    policy: { type: 'hf-causal-lm', path: 'models/policy' },
    reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'raw-logit' } },
    data: { dataset: { type: 'prompt-file', path: 'prompts.txt' } },
    optimiser: { type: 'adam' },
  };
  const dir = tmpProject({
    'package.json': '{}',
    'prompts.txt': 'a\n',
    'models/policy/config.json': '{}',
    'shared/exp.json': { $import: '../.detoxrc.json', data: { dataset: { path: './nope.txt' } } },
    '.detoxrc.json': cfg,
  });
  const ok = spawnSync(process.execPath, [CLI, 'run', '--dry-run'], { cwd: dir, encoding: 'utf8' });
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stderr, /config is valid/);
  const bad = spawnSync(process.execPath, [CLI, 'run', '--dry-run', 'shared/exp.json'], { cwd: dir, encoding: 'utf8' });
  t.is(bad.status, 2, bad.stderr);
  t.regex(
    bad.stderr,
    /^config error: shared\/exp\.json: data\.dataset\.path: "shared\/nope\.txt" does not exist \(looked for .*\/shared\/nope\.txt;/m,
  );
  t.notRegex(bad.stderr, /config is valid/);
  // A grid's dry run checks every arm.
  fs.writeFileSync(path.join(dir, 'shared/grid.json'), JSON.stringify({ $import: './exp.json', ablate: { seed: [0, 1] } }));
  const grid = spawnSync(process.execPath, [CLI, 'run', '--dry-run', 'shared/grid.json'], { cwd: dir, encoding: 'utf8' });
  t.is(grid.status, 2, grid.stderr);
  t.regex(grid.stderr, /^config error: \[seed-0\] data\.dataset\.path: "shared\/nope\.txt" does not exist/m);
  t.regex(grid.stderr, /^config error: \[seed-1\] data\.dataset\.path: /m);
  t.false(fs.existsSync(path.join(dir, 'runs')));
});
