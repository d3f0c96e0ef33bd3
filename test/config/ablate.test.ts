import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { definePlugin, type AnyPluginDefinition } from '../../core/plugin/define.js';
import { ConfigError } from '../../core/config/prepare.js';
import { armName, expandGrid, gridArms, parseAblate, planAblation, settingKeys, slugValue } from '../../core/config/ablate.js';
import { gridExitCode, inspectArm, statusTable } from '../../core/training/arm-process.js';
import { diffPaths } from '../../core/training/run-folder.js';
import { tmpProject } from '../helpers/tmp.js';

// Small plugins of every slot kind, so the grid machinery is tested on its own (nothing is built).
const fail = () => {
  throw new Error('not built in config tests');
};
const testPlugins: AnyPluginDefinition[] = [
  definePlugin({ kind: 'policy', name: 'fake-policy', description: 'test', options: z.object({ path: z.string() }), create: fail }),
  definePlugin({ kind: 'reward-model', name: 'fake-cls', description: 'test', options: z.object({}), create: fail }),
  definePlugin({
    kind: 'reward-transform',
    name: 'neutral',
    description: 'test',
    options: z.object({ scale: z.number().default(1) }),
    create: fail,
  }),
  definePlugin({
    kind: 'reward-transform',
    name: 'other',
    description: 'test',
    options: z.object({ temperature: z.number().default(1) }),
    create: fail,
  }),
  definePlugin({ kind: 'dataset', name: 'lines', description: 'test', options: z.object({ path: z.string() }), create: fail }),
  definePlugin({
    kind: 'optimiser',
    name: 'sgd',
    description: 'test',
    options: z.object({ learningRate: z.number().positive().default(0.1) }),
    create: fail,
  }),
];

const base = {
  experiment: 'grid',
  policy: { type: 'fake-policy', path: 'model' },
  reward: { model: { type: 'fake-cls' }, transform: { type: 'neutral', scale: 2 } },
  data: { dataset: { type: 'lines', path: 'p.txt' }, promptTokens: [5, 8] },
  optimiser: { type: 'sgd' },
  ppo: { batchSize: 8, miniBatchSize: 4 },
};

async function plan(config: object, set: string[] = []) {
  const cwd = tmpProject({ '.detoxrc.json': config, 'package.json': { name: 'g' } });
  return { cwd, plan: await planAblation({ cwd, builtins: testPlugins, set }) };
}

async function issuesOf(config: object, set: string[] = []) {
  try {
    await plan(config, set);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error('expected a ConfigError');
}

test('product: first axis varies slowest; zip pairs the i-th values', (t) => {
  const axes = [
    { path: 'a', values: [1, 2] },
    { path: 'b', values: ['x', 'y', 'z'] },
  ];
  t.deepEqual(
    expandGrid(axes).map((s) => s.map((x) => x.value)),
    [
      [1, 'x'],
      [1, 'y'],
      [1, 'z'],
      [2, 'x'],
      [2, 'y'],
      [2, 'z'],
    ],
  );
  const zipped = [
    { path: 'a', values: [1, 2] },
    { path: 'b', values: ['x', 'y'] },
  ];
  t.deepEqual(
    expandGrid(zipped, 'zip').map((s) => s.map((x) => x.value)),
    [
      [1, 'x'],
      [2, 'y'],
    ],
  );
  t.deepEqual(expandGrid([]), []);
});

test('arm names follow the documented rule', (t) => {
  const name = (o: Record<string, unknown>) => armName(Object.entries(o).map(([p, value]) => ({ path: p, value: value as never })));
  t.is(name({ 'reward.transform.type': 'softmax', seed: 1 }), 'transform-softmax_seed-1');
  t.is(name({ 'data.promptTokens': [5, 8] }), 'promptTokens-5-8');
  t.is(name({ 'data.promptTokens': null, 'ppo.adapKlCtrl': false }), 'promptTokens-null_adapKlCtrl-false');
  t.is(name({ 'memory.0.type': 'shared-layers' }), 'memory0-shared-layers');
  t.is(
    name({ 'optimiser.learningRate': 1e-5, 'ppo.scoreClip': 1e21, 'ppo.cliprange': 1e-7 }),
    'learningRate-0.00001_scoreClip-1e21_cliprange-1e-7',
  );
  t.is(name({ 'policy.path': 'models/gpt neo_125M' }), 'path-models-gpt-neo-125M');
  t.is(name({ optimiser: { type: 'adamw', learningRate: 0.0001 } }), 'optimiser-adamw-learningRate-0.0001');
  t.is(name({ 'ppo.lam': 0.9, 'x.lam': 1 }), 'ppo-lam-0.9_x-lam-1');
  t.is(name({ hooks: [] }), 'hooks-none');
  t.is(slugValue(''), 'empty');
  t.is(slugValue(-0.5), '-0.5');
  t.deepEqual(
    [...settingKeys(['reward.transform.type', 'other.transform.type', 'seed'])],
    [
      ['reward.transform.type', 'reward-transform'],
      ['other.transform.type', 'other-transform'],
      ['seed', 'seed'],
    ],
  );
  // Long names are cut and hashed; the hash depends only on the settings.
  const long = name({ 'policy.path': 'x'.repeat(200) });
  t.is(long.length, 110 + 10);
  t.regex(long, /^path-x+_h[0-9a-f]{8}$/);
  t.is(name({ 'policy.path': 'x'.repeat(200) }), long);
  t.not(name({ 'policy.path': 'x'.repeat(201) }), long);
});

test('arms whose names would coincide get distinct hash suffixes', (t) => {
  const arms = gridArms([{ path: 'policy.path', values: ['a b', 'a-b', 'c'] }]);
  t.is(arms[2]!.name, 'path-c');
  t.regex(arms[0]!.name, /^path-a-b_h[0-9a-f]{8}$/);
  t.regex(arms[1]!.name, /^path-a-b_h[0-9a-f]{8}$/);
  t.not(arms[0]!.name, arms[1]!.name);
});

test('ablate fields are checked before any arm: shape, paths, duplicates, overlaps, zip lengths', (t) => {
  const issues = (a: unknown, m?: unknown) => parseAblate(a, m).issues.map((i) => `${i.path}: ${i.message}`);
  t.deepEqual(issues({ seed: [0, 1] }), []);
  t.deepEqual(issues([1, 2]), ['ablate: must be an object mapping config paths to lists of values, e.g. {"seed": [0, 1, 2]} (got [1,2])']);
  t.deepEqual(issues({ seed: 3 }), ['ablate["seed"]: must be a non-empty list of values to try, e.g. [0, 1, 2] (got 3)']);
  t.deepEqual(issues({ seed: [] }), ['ablate["seed"]: must be a non-empty list of values to try, e.g. [0, 1, 2] (got [])']);
  t.regex(issues({ 'ppo..lam': [1] })[0]!, /^ablate\["ppo\.\.lam"\]: not a config path/);
  t.regex(issues({ experiment: ['a', 'b'] })[0]!, /^ablate\["experiment"\]: "experiment" cannot be ablated/);
  t.regex(issues({ runsDir: ['a'] })[0]!, /cannot be ablated/);
  t.deepEqual(issues({ 'ppo.lam': [0.9, 0.95, 0.9] }), ['ablate["ppo.lam"][2]: duplicate value 0.9 (same as [0]); each value must differ']);
  t.deepEqual(
    issues({
      optimiser: [
        { type: 'a', x: 1 },
        { x: 1, type: 'a' },
      ],
    }),
    ['ablate["optimiser"][1]: duplicate value {"x":1,"type":"a"} (same as [0]); each value must differ'],
  );
  t.deepEqual(issues({ ppo: [{}], 'ppo.lam': [1] }), [
    'ablate["ppo.lam"]: overlaps ablate["ppo"] (one path inside the other); ablate disjoint paths',
  ]);
  t.deepEqual(issues({ seed: [0, 1, 2], 'ppo.lam': [0.9, 1] }, 'zip'), [
    'ablate: ablateMode "zip" needs lists of equal length (got seed: 3, ppo.lam: 2); use "product" for every combination',
  ]);
  t.deepEqual(issues({ seed: [0] }, 'both'), ['ablateMode: must be "product" or "zip" (got "both")']);
});

test('each arm = base with setPath per setting, ablate removed; a changed slot type resets its options', async (t) => {
  const { cwd, plan: p } = await plan({
    ...base,
    ablate: { 'reward.transform.type': ['neutral', 'other'], 'data.promptTokens': [[5, 8], null], seed: [0, 1] },
  });
  t.truthy(p);
  t.is(p!.arms.length, 8);
  t.is(p!.experimentDir, path.join(cwd, 'runs', 'grid'));
  t.deepEqual(p!.arms.map((a) => a.name).slice(0, 4), [
    'transform-neutral_promptTokens-5-8_seed-0',
    'transform-neutral_promptTokens-5-8_seed-1',
    'transform-neutral_promptTokens-null_seed-0',
    'transform-neutral_promptTokens-null_seed-1',
  ]);
  const other = p!.arms.find((a) => a.name === 'transform-other_promptTokens-null_seed-1')!;
  t.is(other.runDir, path.join(cwd, 'runs', 'grid', other.name));
  const cfg = other.prepared.config;
  t.deepEqual(cfg.reward.transform, { type: 'other', temperature: 1 }); // `scale` of the old plugin did not leak
  t.is(cfg.data.promptTokens, null);
  t.is(cfg.seed, 1);
  t.false('ablate' in cfg);
  t.false('ablateMode' in cfg);
  const neutral = p!.arms[0]!.prepared.config;
  t.deepEqual(neutral.reward.transform, { type: 'neutral', scale: 2 }); // same type: options kept
  t.deepEqual(neutral.data.promptTokens, [5, 8]);
  t.is(neutral.ppo.batchSize, 8);
});

test('zip mode, --set on top, and configs without a grid', async (t) => {
  const zipped = (await plan({ ...base, ablate: { seed: [0, 1], 'ppo.lam': [0.9, 1] }, ablateMode: 'zip' }, ['ppo.gamma=0.5'])).plan!;
  t.deepEqual(
    zipped.arms.map((a) => a.name),
    ['seed-0_lam-0.9', 'seed-1_lam-1'],
  );
  t.deepEqual(
    zipped.arms.map((a) => [a.prepared.config.seed, a.prepared.config.ppo.lam, a.prepared.config.ppo.gamma]),
    [
      [0, 0.9, 0.5],
      [1, 1, 0.5],
    ],
  );
  // --set can change the grid itself.
  const viaSet = (await plan(base, ['ablate={"seed":[3,4,5]}'])).plan!;
  t.deepEqual(
    viaSet.arms.map((a) => a.name),
    ['seed-3', 'seed-4', 'seed-5'],
  );
  t.is((await plan(base)).plan, null);
  t.is((await plan({ ...base, ablate: {} })).plan, null);
});

test('a bad path or value in any arm fails before any arm runs, naming the ablate entry and the arms', async (t) => {
  const issues = await issuesOf({
    ...base,
    ablate: { 'reward.transform.type': ['neutral', 'sigmoid'], seed: [0, 1], 'ppo.batchsize': [4] },
  });
  t.deepEqual(issues, [
    'ppo.batchsize: unknown key (got 4); allowed keys: batchSize, miniBatchSize, gradientAccumulationSteps, ppoEpochs, adapKlCtrl, initKlCoef, ' +
      'klPenalty, target, horizon, gamma, lam, cliprange, cliprangeValue, vfCoef, maxGradNorm, earlyStopping, targetKl, ratioThreshold, ' +
      'useScoreScaling, useScoreNorm, scoreClip, whitenRewards [from ablate["ppo.batchsize"] value 4; 4 of 4 arms: ' +
      'transform-neutral_seed-0_batchsize-4, transform-neutral_seed-1_batchsize-4, transform-sigmoid_seed-0_batchsize-4 and 1 more]',
    'reward.transform.type: unknown reward-transform plugin "sigmoid"; known: neutral, other [from ablate["reward.transform.type"] value "sigmoid"; ' +
      '2 of 4 arms: transform-sigmoid_seed-0_batchsize-4, transform-sigmoid_seed-1_batchsize-4]',
  ]);
  // A cross-field rule broken only by some values is traced to the axis whose value those arms share.
  t.deepEqual(await issuesOf({ ...base, ablate: { seed: [0, 1], 'ppo.miniBatchSize': [4, 3] } }), [
    'ppo.batchSize: must be a multiple of miniBatchSize × gradientAccumulationSteps = 3 × 1 = 3 (got 8) ' +
      '[from ablate["ppo.miniBatchSize"] value 3; 2 of 4 arms: seed-0_miniBatchSize-3, seed-1_miniBatchSize-3]',
  ]);
  // A problem of the base config shows once, for every arm.
  t.deepEqual(await issuesOf({ ...base, ppo: { batchSize: 8, miniBatchSize: 3 }, ablate: { seed: [0, 1] } }), [
    'ppo.batchSize: must be a multiple of miniBatchSize × gradientAccumulationSteps = 3 × 1 = 3 (got 8) [in every arm]',
  ]);
  t.deepEqual(
    await issuesOf({
      ...base,
      ablate: {
        'data.promptTokens': [
          [5, 8],
          [9, 3],
        ],
      },
    }),
    [
      "data.promptTokens: must be [min, max) with max > min (max is excluded, as in TRL's LengthSampler) (got [9,3]) " +
        '[from ablate["data.promptTokens"] value [9,3]; 1 of 2 arms: promptTokens-9-3]',
    ],
  );
});

test('re-run decisions: done arms are skipped, stopped ones resume, fresh ones move aside once, changed or locked ones are refused', async (t) => {
  const p = (await plan({ ...base, ablate: { seed: [0, 1] } })).plan!;
  const arm = p.arms[0]!;
  const dir = arm.runDir;
  t.deepEqual(inspectArm(arm, false), { action: 'start' }); // no folder yet
  const write = (rel: string, body: unknown) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), typeof body === 'string' ? body : JSON.stringify(body));
  };
  const checkpoint = (name: string) => {
    for (const f of ['trainer-state.json', 'optimiser.safetensors', 'policy/config.json', 'policy/model.safetensors'])
      write(`checkpoints/${name}/${f}`, '{}');
  };
  write('resolved-config.json', { ...arm.prepared.config, $source: { files: [], baseDir: '/x' } });
  write('samples.jsonl', '');
  t.deepEqual(inspectArm(arm, false), { action: 'start' }); // failed before its first step: starts again in place
  write('samples.jsonl', '{"step":1}\n');
  t.deepEqual(inspectArm(arm, false), { action: 'start' }); // stopped before its first checkpoint: again in place
  checkpoint('step-2');
  checkpoint('step-4');
  write('checkpoints/step-6/trainer-state.json', '{}'); // incomplete: ignored
  checkpoint('failed-step-5');
  t.deepEqual(inspectArm(arm, false), { action: 'resume', resumeStep: 4 });
  write('summary.json', { status: 'interrupted' });
  t.deepEqual(inspectArm(arm, false), { action: 'resume', resumeStep: 4 });
  write('summary.json', { status: 'done' });
  t.deepEqual(inspectArm(arm, false), { action: 'skip' });
  t.deepEqual(inspectArm(arm, true), { action: 'start', moveAside: '--fresh' });
  fs.mkdirSync(`${dir}.old-2026-01-01T00-00-00-000Z`);
  const refused = inspectArm(arm, true);
  t.is(refused.action, 'refuse');
  t.regex(refused.reason!, /already holds a previous copy: delete it, or add --keep-old to keep both/);
  t.deepEqual(inspectArm(arm, true, true), { action: 'start', moveAside: '--fresh' });
  write('resolved-config.json', { ...arm.prepared.config, ppo: { ...arm.prepared.config.ppo, lam: 0.5 }, $source: {} });
  const changed = inspectArm(arm, false);
  t.is(changed.action, 'refuse');
  t.regex(changed.reason!, /holds a run with another config \(ppo\.lam: 0\.5 → 0\.95\); --fresh starts over/);
  write('.lock', { pid: process.pid === 1 ? 2 : 1, host: os.hostname(), command: 'run', startedAt: 'then' });
  const locked = inspectArm(arm, false);
  t.is(locked.action, 'refuse');
  t.regex(locked.reason!, /is in use by pid \d+ on /);
  t.deepEqual(diffPaths({ a: { b: 1, c: [1] } }, { a: { b: 2, c: [1, 2] }, d: true }), [
    'a.b: 1 → 2',
    'a.c: [1] → [1,2]',
    'd: nothing → true',
  ]);
});

test('grid exit code and status table', (t) => {
  const r = (status: 'done' | 'skipped' | 'failed' | 'interrupted' | 'not started') => ({ name: status, status, code: null, wallMs: 0 });
  t.is(gridExitCode([r('done'), r('skipped')]), 0);
  t.is(gridExitCode([r('done'), r('failed')]), 1);
  t.is(gridExitCode([r('failed'), r('interrupted')]), 130);
  t.is(gridExitCode([r('done'), r('not started')]), 130);
  t.is(
    statusTable([{ name: 'seed-0', status: 'done', code: 0, wallMs: 12345, note: '3 steps' }]),
    '| arm    | status | exit | wall time | note    |\n|--------|--------|------|-----------|---------|\n| seed-0 | done   | 0    | 12.3 s    | 3 steps |',
  );
});
