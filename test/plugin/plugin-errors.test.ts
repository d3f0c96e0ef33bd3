/**
 * A plugin's error names the config slot, the plugin and the phase (`reward.model (my-plugin) classify: boom`), for
 * its creation and every runtime call, from the one plugin boundary (core/di/container.ts#create); and the exit code
 * stays what the error means (a runtime failure 1, a plugin that cannot be built 2). Also the zero-variance guard end
 * to end (warning once, failure with exit 1 and a resumable checkpoint; allowed with null).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { definePlugin } from '../../core/plugin/define.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { create } from '../../core/di/container.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import { InputError } from '../../core/errors.js';
import promptFile from '../../plugins/datasets/prompt-file.js';
import { ROOT, fixture, tmpProject } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const DETOX_LAB = pathToFileURL(path.join(ROOT, 'dist/core/index.js')).href;
const ctx = { configDir: '.', seed: 0, trainSteps: 1, backend: 'cpu', memoryPlan: defaultMemoryPlan(), log: () => {} };

class Thing {
  #secret = 41;
  get value(): number {
    return this.#secret + 1;
  }
  read(): number {
    return this.#secret;
  }
  async later(fail: boolean): Promise<number> {
    if (fail) throw new TypeError('late boom');
    return this.#secret;
  }
  now(): never {
    throw new RangeError('now boom');
  }
}

const throwingPlugins = [
  definePlugin({
    kind: 'reward-model',
    name: 'bad-create',
    description: 't',
    options: z.object({}),
    create: async () => {
      throw new Error('boom');
    },
  }),
  definePlugin({
    kind: 'reward-transform',
    name: 'bad-transform',
    description: 't',
    options: z.object({}),
    create: () => ({
      name: 'bad-transform',
      transform: () => {
        throw new Error('boom');
      },
    }),
  }),
  definePlugin({
    kind: 'dataset',
    name: 'bad-dataset',
    description: 't',
    options: z.object({}),
    create: () =>
      ({
        name: 'bad-dataset',
        load: async () => {
          throw new Error('cannot read');
        },
      }) as never,
  }),
  definePlugin({
    kind: 'hook',
    name: 'bad-hook',
    description: 't',
    options: z.object({}),
    create: () => ({
      name: 'bad-hook',
      onReward: () => {
        throw new Error('boom');
      },
      onStep: async () => {
        throw new Error('late');
      },
    }),
  }),
  definePlugin({ kind: 'policy', name: 'thing', description: 't', options: z.object({}), create: () => new Thing() as never }),
];
const registry = new PluginRegistry([...throwingPlugins, promptFile]);

test('create and every runtime call name the slot, the plugin and the phase', async (t) => {
  const e1 = await t.throwsAsync(create(registry, 'reward-model', { type: 'bad-create' }, ctx));
  t.is(e1!.message, 'reward.model (bad-create) create: boom');
  const tr = await create(registry, 'reward-transform', { type: 'bad-transform' }, ctx);
  t.throws(() => tr.transform([[1, 0]], 0), { message: 'reward.transform (bad-transform) transform: boom' });
  const ds = await create(registry, 'dataset', { type: 'bad-dataset' }, ctx);
  t.is((await t.throwsAsync(ds.load()))!.message, 'data.dataset (bad-dataset) load: cannot read');
  const hook = await create(registry, 'hook', { type: 'bad-hook' }, ctx, 'hooks.2');
  t.throws(() => hook.onReward!([1], {} as never), { message: 'hooks.2 (bad-hook) onReward: boom' });
  t.is((await t.throwsAsync(Promise.resolve(hook.onStep!({} as never))))!.message, 'hooks.2 (bad-hook) onStep: late');
});

test('the instance behaves as before: private fields, getters, instanceof, error classes kept, labelled once', async (t) => {
  const thing = (await create(registry, 'policy', { type: 'thing' }, ctx)) as unknown as Thing;
  t.true(thing instanceof Thing);
  t.is(thing.value, 42);
  t.is(thing.read(), 41);
  t.is(await thing.later(false), 41);
  const late = await t.throwsAsync(thing.later(true), { instanceOf: TypeError });
  t.is(late!.message, 'policy (thing) later: late boom');
  const now = t.throws(() => thing.now(), { instanceOf: RangeError });
  t.is(now!.message, 'policy (thing) now: now boom');
  t.regex(now!.stack!, /^RangeError: policy \(thing\) now: now boom\n/);
  // A built-in's input error keeps its class (exit code 2) and is named once.
  const dir = tmpProject({ 'empty.txt': '\n\n' });
  const ds = await create(registry, 'dataset', { type: 'prompt-file', path: 'empty.txt', heldOutFraction: 0 }, { ...ctx, configDir: dir });
  const err = await t.throwsAsync(ds.load(), { instanceOf: InputError });
  t.regex(err!.message, /^data\.dataset \(prompt-file\) load: /);
  t.is(err!.message.match(/data\.dataset \(/g)!.length, 1);
});

/** A tiny project whose reward model is one of the test plugins. */
async function probeProject(model: object, over: Record<string, unknown> = {}): Promise<string> {
  const dir = await tinyProject((p) => ({
    ...tinyExperiment(p, {
      workers: 1,
      train: { steps: 4, checkpointEvery: 0, sampleEvery: 1, progress: false },
      eval: { enabled: false, maxNewTokens: 4, batchSize: 4 },
      ...over,
    }),
    plugins: ['./reward-probes.mjs'],
  }));
  const file = path.join(dir, '.detoxrc.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.reward.model = model;
  fs.writeFileSync(file, JSON.stringify(cfg));
  fs.writeFileSync(
    path.join(dir, 'reward-probes.mjs'),
    fs.readFileSync(fixture('plugins', 'reward-probes.mjs'), 'utf8').replace("from 'DETOX_LAB';", `from '${DETOX_LAB}';`),
  );
  return dir;
}
const run = (cwd: string, args: string[] = []) =>
  spawnSync(process.execPath, [CLI, 'run', ...args], { cwd, encoding: 'utf8', timeout: 120_000 });

test('detox-lab run: a plugin throwing during training exits 1 naming it and the phase; one that cannot be built exits 2', async (t) => {
  const failing = run(await probeProject({ type: 'throwing-model', failIn: 'classify' }));
  t.is(failing.status, 1, failing.stderr);
  t.regex(failing.stderr, /^error: reward\.model \(throwing-model\) classify: boom$/m);
  const unbuilt = run(await probeProject({ type: 'throwing-model', failIn: 'create' }));
  t.is(unbuilt.status, 2, unbuilt.stderr);
  t.regex(unbuilt.stderr, /^error: cannot build the experiment: reward\.model \(throwing-model\) create: boom$/m);
});

test('rewards constant from the start: one warning naming the model and transform, then exit 1 after reward.zeroVarianceSteps with the steps saved', async (t) => {
  const dir = await probeProject({ type: 'wrong-logit' });
  const cfgFile = path.join(dir, '.detoxrc.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  cfg.reward.zeroVarianceSteps = 2;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const r = run(dir);
  t.is(r.status, 1, r.stderr);
  t.is(r.stderr.match(/warning: every reward of step 1 is 0 \(zero variance across the batch of 4\)/g)?.length, 1, r.stderr);
  t.regex(
    r.stderr,
    /Likely cause: reward\.model "wrong-logit" \(labels \["neutral","toxic"\], neutral class 0\) scores every response the same under reward\.transform "raw-logit"/,
  );
  t.regex(
    r.stderr,
    /^error: the rewards had zero variance for the first 2 steps \(every reward 0; reward\.model "wrong-logit", reward\.transform "raw-logit"\)/m,
  );
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'runs/tiny/main/summary.json'), 'utf8'));
  t.is(summary.status, 'failed');
  t.is(summary.step, 1);
  t.true(fs.existsSync(path.join(dir, 'runs/tiny/main/checkpoints/step-1/trainer-state.json')));
  // Allowed from here on: --resume may change reward.zeroVarianceSteps; the run finishes, warning once.
  const resumed = run(dir, ['--resume', 'runs/tiny/main', '--set', 'reward.zeroVarianceSteps=null']);
  t.is(resumed.status, 0, resumed.stderr);
  t.is(resumed.stderr.match(/zero variance across the batch/g)?.length, 1, resumed.stderr);
  t.regex(resumed.stderr, /reward\.zeroVarianceSteps is null: the run goes on\./);
  t.is(JSON.parse(fs.readFileSync(path.join(dir, 'runs/tiny/main/summary.json'), 'utf8')).step, 4);
});
