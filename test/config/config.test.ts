import test from 'ava';
import { z } from 'zod';
import { definePlugin, type AnyPluginDefinition } from '../../core/plugin/define.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { prepareExperiment, ConfigError, ConfigFileError } from '../../core/config/prepare.js';
import { mergeConfig, parseAssignment, setPath } from '../../core/config/merge.js';
import { tmpProject } from '../helpers/tmp.js';

// Small but working plugins of every slot kind, so the config machinery is tested on its own.
const testPlugins: AnyPluginDefinition[] = [
  definePlugin({
    kind: 'policy',
    name: 'fake-policy',
    description: 'test',
    options: z.object({ path: z.string(), layers: z.number().int().default(2) }),
    create: () => {
      throw new Error('not built in config tests');
    },
  }),
  definePlugin({
    kind: 'reward-model',
    name: 'fake-cls',
    description: 'test',
    options: z.object({}),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'reward-transform',
    name: 'neutral',
    description: 'test',
    options: z.object({ scale: z.number().default(1) }),
    create: (o) => ({ name: 'neutral', transform: (l, n) => l.map((r) => o.scale * r[n]!) }),
  }),
  definePlugin({
    kind: 'reward-transform',
    name: 'other',
    description: 'test',
    options: z.object({ temperature: z.number().default(1) }),
    create: () => ({ name: 'other', transform: (l) => l.map(() => 0) }),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'lines',
    description: 'test',
    options: z.object({ path: z.string() }),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'optimiser',
    name: 'sgd',
    description: 'test',
    options: z.object({ learningRate: z.number().positive().default(0.1) }),
    create: () => {
      throw new Error('x');
    },
  }),
  definePlugin({
    kind: 'memory',
    name: 'checkpointing',
    description: 'test',
    options: z.object({}),
    create: () => ({
      name: 'checkpointing',
      apply: (p) => {
        p.checkpointBlocks = true;
      },
    }),
  }),
];

const base = {
  experiment: 'unit',
  policy: { type: 'fake-policy', path: 'model' },
  reward: { model: { type: 'fake-cls' }, transform: { type: 'neutral', scale: 2 } },
  data: { dataset: { type: 'lines', path: 'p.txt' }, promptTokens: [5, 8] },
  optimiser: { type: 'sgd' },
  ppo: { batchSize: 8, miniBatchSize: 4 },
};

async function load(files: Record<string, string | object>, opts: { file?: string; set?: string[] } = {}) {
  const cwd = tmpProject(files);
  return prepareExperiment({ cwd, builtins: testPlugins, ...opts });
}

async function issuesOf(files: Record<string, string | object>, opts: { file?: string; set?: string[] } = {}) {
  const err = await (async () => {
    try {
      await load(files, opts);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(err)}`);
  return err.issues;
}

test('a valid config fills TRL defaults and plugin defaults', async (t) => {
  const { config } = await load({ '.detoxrc.json': base });
  t.is(config.ppo.ppoEpochs, 4);
  t.is(config.ppo.initKlCoef, 0.2);
  t.is(config.ppo.lam, 0.95);
  t.is(config.ppo.vfCoef, 0.1);
  t.deepEqual(config.generation.responseTokens, [20, 30]);
  t.deepEqual(config.policy, { type: 'fake-policy', path: 'model', layers: 2 });
  t.deepEqual(config.optimiser, { type: 'sgd', learningRate: 0.1 });
  t.is(config.backend, 'wasm');
});

test('unknown plugin type names the path and lists the known plugins', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, reward: { ...base.reward, transform: { type: 'sigmoid' } } } });
  t.deepEqual(
    issues.map((i) => i.path),
    ['reward.transform.type'],
  );
  t.regex(issues[0]!.message, /unknown reward-transform plugin "sigmoid"; known: neutral, other/);
});

test('wrong option type names the path, the value and the expected type', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, ppo: { ...base.ppo, ppoEpochs: 'four' } } });
  t.is(issues[0]!.path, 'ppo.ppoEpochs');
  t.regex(issues[0]!.message, /expected number/);
  t.regex(issues[0]!.message, /got "four"/);
});

test('wrong plugin option type is reported under the slot path', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, policy: { type: 'fake-policy', path: 'm', layers: 1.5 } } });
  t.is(issues[0]!.path, 'policy.layers');
  t.regex(issues[0]!.message, /got 1\.5/);
});

test('unknown keys are rejected, in core sections and in plugin options', async (t) => {
  const issues = await issuesOf({
    '.detoxrc.json': { ...base, ppo: { ...base.ppo, batchsize: 4 }, optimiser: { type: 'sgd', lr: 0.1 } },
  });
  const paths = issues.map((i) => i.path).sort();
  t.deepEqual(paths, ['optimiser.lr', 'ppo.batchsize']);
  const ppo = issues.find((i) => i.path === 'ppo.batchsize')!;
  t.regex(ppo.message, /unknown key \(got 4\); allowed keys: batchSize, miniBatchSize/);
  t.regex(issues.find((i) => i.path === 'optimiser.lr')!.message, /allowed keys: learningRate/);
});

test('enums list the allowed values', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, backend: 'webgpu' } });
  t.is(issues[0]!.path, 'backend');
  t.regex(issues[0]!.message, /must be one of "wasm", "cpu", "tensorflow", "tensorflow-gpu" \(got "webgpu"\)/);
});

test("batch size must be a multiple of the backward batch (TRL's rule)", async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, ppo: { batchSize: 10, miniBatchSize: 4 } } });
  t.is(issues[0]!.path, 'ppo.batchSize');
  t.regex(issues[0]!.message, /multiple of miniBatchSize × gradientAccumulationSteps = 4 × 1 = 4 \(got 10\)/);
});

test('LengthSampler ranges exclude max and must be increasing', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, data: { ...base.data, promptTokens: [8, 8] } } });
  t.is(issues[0]!.path, 'data.promptTokens');
  t.regex(issues[0]!.message, /max > min/);
});

test('all issues are reported at once', async (t) => {
  const issues = await issuesOf({ '.detoxrc.json': { ...base, seed: 'x', optimiser: { type: 'adamx' }, train: { steps: 0 } } });
  t.deepEqual(issues.map((i) => i.path).sort(), ['optimiser.type', 'seed', 'train.steps']);
});

test('$import: child keys win, arrays replace, a changed slot type drops the old options', async (t) => {
  const { config } = await load(
    {
      '.detoxrc.json': { ...base, memory: [{ type: 'checkpointing' }] },
      'experiments/x.json': {
        $import: '../.detoxrc.json',
        experiment: 'x',
        reward: { transform: { type: 'other' } },
        data: { promptTokens: [10, 15] },
        memory: [],
      },
    },
    { file: 'experiments/x.json' },
  );
  t.is(config.experiment, 'x');
  t.deepEqual(config.reward.transform, { type: 'other', temperature: 1 });
  t.deepEqual(config.data.promptTokens, [10, 15]);
  t.deepEqual(config.data.dataset, { type: 'lines', path: 'p.txt' });
  t.deepEqual(config.memory, []);
});

test('--set overrides are typed and applied last', async (t) => {
  const { config } = await load(
    { '.detoxrc.json': base },
    {
      set: ['ppo.batchSize=16', 'ppo.whitenRewards=true', 'data.promptTokens=[15,20]', 'experiment=abc', 'reward.transform.type=other'],
    },
  );
  t.is(config.ppo.batchSize, 16);
  t.is(config.ppo.whitenRewards, true);
  t.deepEqual(config.data.promptTokens, [15, 20]);
  t.is(config.experiment, 'abc');
  t.deepEqual(config.reward.transform, { type: 'other', temperature: 1 });
});

test('config search: .detoxrc.json, .config/detoxrc.json, package.json "detoxLab"; never .detoxrc.js or "detox"', async (t) => {
  const a = await load({ '.config/detoxrc.json': { ...base, experiment: 'dotconfig' } });
  t.is(a.config.experiment, 'dotconfig');
  const b = await load({ 'package.json': { name: 'x', detoxLab: { ...base, experiment: 'pkg' } } });
  t.is(b.config.experiment, 'pkg');
  const err = await t.throwsAsync(
    load({ '.detoxrc.js': 'module.exports = {}', 'package.json': { name: 'x', detox: { configurations: {} } } }),
  );
  t.true(err instanceof ConfigFileError);
  t.regex(err!.message, /no config found/);
});

test('config search walks up from a subfolder to the project root', async (t) => {
  const cwd = tmpProject({ 'package.json': { name: 'p' }, '.detoxrc.json': base, 'sub/dir/file.txt': 'x' });
  const { config, raw } = await prepareExperiment({ cwd: `${cwd}/sub/dir`, builtins: testPlugins });
  t.is(config.experiment, 'unit');
  t.is(raw.baseDir, cwd);
});

test('bad JSON, a missing file and a circular $import are clear errors', async (t) => {
  const e1 = await t.throwsAsync(load({ '.detoxrc.json': '{ "seed": 1, }' }));
  t.regex(e1!.message, /\.detoxrc\.json: not valid JSON/);
  const e2 = await t.throwsAsync(load({ '.detoxrc.json': base }, { file: 'nope.json' }));
  t.regex(e2!.message, /config file not found: .*nope\.json/);
  const e3 = await t.throwsAsync(load({ 'a.json': { $import: './b.json' }, 'b.json': { $import: './a.json' } }, { file: 'a.json' }));
  t.regex(e3!.message, /circular \$import: .*a\.json → .*b\.json → .*a\.json/);
});

test('merge and --set helpers', (t) => {
  t.deepEqual(mergeConfig({ a: [1, 2], b: { c: 1, d: 2 } }, { a: [3], b: { c: 5 } }), { a: [3], b: { c: 5, d: 2 } });
  t.deepEqual(parseAssignment('a.b=1e-5'), { path: 'a.b', value: 1e-5 });
  t.deepEqual(parseAssignment('a=hello world'), { path: 'a', value: 'hello world' });
  t.deepEqual(parseAssignment('a="7"'), { path: 'a', value: '7' });
  t.deepEqual(setPath({ memory: [{ type: 'x', n: 1 }] }, 'memory.0.n', 2), { memory: [{ type: 'x', n: 2 }] });
  t.throws(() => parseAssignment('novalue'), { message: /expected path=value/ });
  t.throws(() => setPath({ memory: [] }, 'memory.first', 1), { message: /indexed by a number/ });
  // A missing list is created as a list; an index appends or replaces, never leaves a gap.
  t.deepEqual(setPath({}, 'memory.0.type', 'bf16'), { memory: [{ type: 'bf16' }] });
  t.deepEqual(setPath({ memory: [{ type: 'bf16' }] }, 'memory.1', { type: 'checkpointing' }), {
    memory: [{ type: 'bf16' }, { type: 'checkpointing' }],
  });
  t.throws(() => setPath({}, 'memory.2.type', 'bf16'), {
    message: 'config path memory.2: the list memory is empty; memory.0 adds its first entry',
  });
  t.throws(() => setPath({ memory: [{ type: 'bf16' }] }, 'memory.3', 1), {
    message: /the list memory has 1 entry; give an index from 0 to 1 \(1 appends\)/,
  });
});

test('registry: duplicate names are an error; kebab-case names enforced', (t) => {
  const r = new PluginRegistry(testPlugins);
  t.throws(() => r.register(testPlugins[2]!, 'mine.js'), {
    message: /duplicate reward-transform plugin "neutral": from mine\.js, already registered from built-in/,
  });
  t.throws(
    () =>
      definePlugin({
        kind: 'dataset',
        name: 'My_Data',
        description: '',
        options: z.object({}),
        create: () => {
          throw new Error();
        },
      }),
    { message: /kebab-case/ },
  );
});
