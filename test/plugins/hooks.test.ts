/**
 * Hooks as plugins: the built-in output hooks (tensorboard, samples, console) are registered `hook` plugins, on by
 * default and configurable through `hooks`; every hook stage is called in order; `eval.every` evaluates during
 * training (onEval, TensorBoard at the step) without changing training.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { pathToFileURL } from 'node:url';
import { ConfigError, validateConfig } from '../../core/config/validate.js';
import { PluginRegistry } from '../../core/plugin/registry.js';
import { TensorBoardHook, SamplesHook } from '../../core/logging/run-hooks.js';
import { readScalars } from '../../core/logging/tfevents.js';
import { readSafetensors } from '../../core/model/io/safetensors.js';
import { builtinPlugins } from '../../plugins/index.js';
import { ROOT, fixture } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const DETOX_LAB = pathToFileURL(path.join(ROOT, 'dist/core/index.js')).href;
const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
test.before(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu'); // TensorBoardHook reads tf.memory()
});

const registry = new PluginRegistry(builtinPlugins);
const base = {
  policy: { type: 'hf-causal-lm', path: 'm' },
  reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'raw-logit' } },
  data: { dataset: { type: 'builtin-toxic-prompts' } },
  optimiser: { type: 'adam' },
};
const issuesOf = (raw: object) => {
  try {
    validateConfig(raw, registry);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
};

test('detox-lab plugins --kind hook lists the three built-in output hooks with their options', (t) => {
  const r = cli(ROOT, 'plugins', '--kind', 'hook');
  t.is(r.code, 0, r.stderr);
  for (const name of ['tensorboard', 'samples', 'console']) t.regex(r.stdout, new RegExp(`^hook ${name}: .*on by default`, 'm'));
  t.regex(r.stdout, /logEvery .*default: train\.logEvery/);
  t.regex(r.stdout, /sampleEvery .*default: train\.sampleEvery/);
  t.regex(r.stdout, /progress .*default: train\.progress/);
});

test('hooks: the built-in output hooks are on by default, listing one configures or disables it, your hooks keep them', (t) => {
  const cfg0 = validateConfig(base, registry);
  t.deepEqual(cfg0.hooks, [
    { type: 'tensorboard', enabled: true },
    { type: 'samples', enabled: true },
    { type: 'console', enabled: true },
  ]);
  t.is(cfg0.eval.every, 0);
  const cfg = validateConfig(
    {
      ...base,
      hooks: [
        { type: 'console', enabled: false },
        { type: 'tensorboard', logEvery: 5 },
      ],
    },
    registry,
  );
  t.deepEqual(cfg.hooks, [
    { type: 'samples', enabled: true },
    { type: 'console', enabled: false },
    { type: 'tensorboard', enabled: true, logEvery: 5 },
  ]);
  // Resolving the resolved config again changes nothing (resolved-config.json, a queue's arm config).
  t.deepEqual(validateConfig(JSON.parse(JSON.stringify(cfg)), registry).hooks, cfg.hooks);
  // A registry without the built-ins adds nothing it cannot build.
  t.deepEqual(validateConfig(base, new PluginRegistry(builtinPlugins.filter((d) => d.kind !== 'hook'))).hooks, []);
});

test('hooks and eval.every: bad options name the field', (t) => {
  t.deepEqual(
    issuesOf({ ...base, hooks: [{ type: 'tensorboard', logEvery: 0 }] }).map((i) => i.path),
    ['hooks.0.logEvery'],
  );
  t.deepEqual(
    issuesOf({ ...base, hooks: [{ type: 'console', enabled: 'no' }] }).map((i) => i.path),
    ['hooks.0.enabled'],
  );
  const unknown = issuesOf({ ...base, hooks: [{ type: 'samples', every: 2 }] });
  t.is(unknown[0]!.path, 'hooks.0.every');
  t.regex(unknown[0]!.message, /unknown key .*allowed keys: enabled/);
  t.deepEqual(
    issuesOf({ ...base, hooks: [{ type: 'samples' }, { type: 'samples', enabled: false }] }).map((i) => i.path),
    ['hooks.1.type'],
  );
  t.deepEqual(
    issuesOf({ ...base, eval: { every: -1 } }).map((i) => i.path),
    ['eval.every'],
  );
  t.deepEqual(
    issuesOf({ ...base, eval: { every: 1.5 } }).map((i) => i.path),
    ['eval.every'],
  );
  const off = issuesOf({ ...base, eval: { enabled: false, every: 2 } });
  t.deepEqual(
    off.map((i) => i.path),
    ['eval.every'],
  );
  t.regex(off[0]!.message, /needs eval\.enabled: true/);
});

test('TensorBoardHook and SamplesHook open their files at the run start; onEval writes eval figures; onForcedExit makes them durable', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-hooks-'));
  const tb = new TensorBoardHook({ logEvery: 1, sampleEvery: 1 });
  const samples = new SamplesHook();
  t.deepEqual(fs.readdirSync(dir), [], 'nothing written before onRunStart');
  tb.onRunStart({ runDir: dir });
  samples.onRunStart({ runDir: dir });
  const sample = { prompt: 'p', response: 'r', score: 1, reward: 1, toxicity: 0.5 };
  const report = { step: 1, totalSteps: 2, stats: { 'env/reward_mean': 1 }, rewards: [1], samples: [sample], elapsedMs: 1 };
  tb.onStep(report);
  samples.onStep(report);
  const result = {
    toxicity: { mean: 0.25, std: 0, n: 1 },
    distinct1: 1,
    distinct2: 1,
    distinct3: 1,
    perplexity: 3,
    prompts: 1,
    samples: [],
  };
  tb.onEval({ step: 1, phase: 'periodic', figures: { 'eval/toxicity_mean': 0.25 }, result });
  tb.onForcedExit();
  samples.onForcedExit();
  const scalars = readScalars(dir);
  t.deepEqual(
    scalars.get('eval/toxicity_mean')!.map((p) => [p.step, p.value]),
    [[1, 0.25]],
  );
  t.deepEqual(
    scalars.get('env/reward_mean')!.map((p) => p.step),
    [1],
  );
  t.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'samples.jsonl'), 'utf8')), { step: 1, ...sample });
  t.notThrows(() => {
    tb.onRunEnd();
    samples.onRunEnd();
  }, 'ending after a forced exit is harmless');
});

type Stage = {
  stage: string;
  step?: number;
  phase?: string;
  figures?: Record<string, number>;
  n?: number;
  samples?: number;
  reason?: string;
};

async function project(over: Record<string, unknown>, withRecorder: boolean): Promise<string> {
  const dir = await tinyProject((p) => {
    const cfg = tinyExperiment(p, {
      train: { steps: 3, checkpointEvery: 2, sampleEvery: 1, progress: true },
      eval: { maxNewTokens: 4, batchSize: 4, maxPrompts: 3 },
      ...over,
    }) as Record<string, unknown>;
    return withRecorder ? { ...cfg, plugins: ['./plugins/stage-recorder.mjs'] } : cfg;
  });
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.writeFileSync(
    path.join(dir, 'plugins/stage-recorder.mjs'),
    fs.readFileSync(fixture('plugins', 'stage-recorder.mjs'), 'utf8').replace("from 'DETOX_LAB';", `from '${DETOX_LAB}';`),
  );
  return dir;
}

test('a run with a user hook: every stage in order, the eval.every evaluations in onEval and TensorBoard, outputs kept, console off, training unchanged', async (t) => {
  t.timeout(400_000);
  // With a user hook and the console turned off; eval.every = 1 (steps 1 and 2; step 3 is the after-evaluation).
  const a = await project(
    {
      hooks: [
        { type: 'stage-recorder', file: 'stages.jsonl' },
        { type: 'console', enabled: false },
      ],
      eval: { maxNewTokens: 4, batchSize: 4, maxPrompts: 3, every: 1 },
    },
    true,
  );
  // The reference: no user hook, no periodic evaluation, the default console.
  const b = await project({}, false);
  const ra = cli(a, 'run');
  t.is(ra.code, 0, ra.stderr);
  const rb = cli(b, 'run');
  t.is(rb.code, 0, rb.stderr);

  const stages = fs
    .readFileSync(path.join(a, 'stages.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Stage);
  const step = (n: number) => [`onBeforeStep ${n}`, `onReward ${n}`, `onStep ${n}`];
  t.deepEqual(
    stages.map((s) => `${s.stage}${s.step === undefined ? '' : ` ${s.step}`}${s.phase ? ` ${s.phase}` : ''}`),
    [
      'onRunStart',
      'onEval 0 before',
      ...step(1),
      'onEval 1 periodic',
      ...step(2),
      'onEval 2 periodic',
      'onCheckpoint 2',
      ...step(3),
      'onCheckpoint 3',
      'onEval 3 after',
      'onRunEnd 3',
    ],
  );
  t.is(stages.at(-1)!.reason, 'done');
  const evals = stages.filter((s) => s.stage === 'onEval');
  for (const e of evals) {
    t.is(e.n, 3, 'every evaluation uses the same prompts as before/after (eval.maxPrompts)');
    t.is(e.samples, 3);
    for (const k of ['eval/toxicity_mean', 'eval/toxicity_std', 'eval/distinct_2', 'eval/perplexity'])
      t.true(Number.isFinite(e.figures![k]), k);
  }

  const run = (dir: string) => path.join(dir, 'runs/tiny/main');
  // TensorBoard (not listed) still writes, with each evaluation's figures at its step.
  const scalars = readScalars(run(a));
  t.deepEqual(
    scalars.get('eval/toxicity_mean')!.map((p) => [p.step, p.value]),
    evals.map((e) => [e.step, Math.fround(e.figures!['eval/toxicity_mean']!)]),
  );
  t.deepEqual(
    readScalars(run(b))
      .get('eval/toxicity_mean')!
      .map((p) => p.step),
    [0, 3],
  );
  const summary = JSON.parse(fs.readFileSync(path.join(run(a), 'summary.json'), 'utf8'));
  t.is(summary.evalBefore.toxicity.mean, evals[0]!.figures!['eval/toxicity_mean']);
  t.is(summary.evalAfter.toxicity.mean, evals[3]!.figures!['eval/toxicity_mean']);
  // The same prompts and seed every time: the initial policy measured again would give the before figures.
  t.regex(ra.stderr, /eval at step 1: toxicity/);

  // The console: off in a (no progress bar although train.progress is true), on by default in b.
  t.notRegex(ra.stderr, /ppo step \d+\/3/);
  t.regex(rb.stderr, /ppo step 3\/3/);

  // samples.jsonl (not listed) still written; training is the same bit for bit with and without periodic evaluation.
  const lines = (dir: string) => fs.readFileSync(path.join(run(dir), 'samples.jsonl'), 'utf8');
  t.is(lines(a).trim().split('\n').length, 3 * 4);
  t.is(lines(a), lines(b));
  t.deepEqual(
    scalars.get('objective/kl')!.map((p) => p.value),
    readScalars(run(b))
      .get('objective/kl')!
      .map((p) => p.value),
  );
  const weights = async (dir: string) => readSafetensors(path.join(run(dir), 'checkpoints/step-3/policy/model.safetensors'));
  const [wa, wb] = [await weights(a), await weights(b)];
  t.deepEqual([...wa.keys()], [...wb.keys()]);
  for (const [k, v] of wa) t.deepEqual(Array.from(v.data), Array.from(wb.get(k)!.data), k);
});

test("a hook whose onRunStart throws fails the run naming it, and the hooks that started hear onRunEnd ('failed')", async (t) => {
  const dir = await project({ hooks: [{ type: 'stage-recorder', file: 'stages.jsonl' }, { type: 'start-fails' }] }, true);
  fs.writeFileSync(
    path.join(dir, 'plugins/start-fails.mjs'),
    `import { definePlugin, z } from '${DETOX_LAB}';
export default definePlugin({ kind: 'hook', name: 'start-fails', description: 'throws in onRunStart', options: z.object({}),
  create: () => ({ name: 'start-fails', onRunStart() { throw new Error('cannot open my file'); } }) });
`,
  );
  const cfgPath = path.join(dir, '.detoxrc.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  fs.writeFileSync(cfgPath, JSON.stringify({ ...cfg, plugins: [...cfg.plugins, './plugins/start-fails.mjs'] }));
  const r = cli(dir, 'run');
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /hooks\.\d+ \(start-fails\) onRunStart: cannot open my file/);
  const stages = fs
    .readFileSync(path.join(dir, 'stages.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Stage);
  t.deepEqual(
    stages.map((s) => `${s.stage}${s.reason ? ` ${s.reason}` : ''}`),
    ['onRunStart', 'onRunEnd failed'],
  );
});
