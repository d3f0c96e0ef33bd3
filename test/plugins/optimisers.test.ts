import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import adamPlugin from '../../plugins/optimisers/adam.js';
import adamwPlugin from '../../plugins/optimisers/adamw.js';
import type { PluginContext } from '../../core/plugin/define.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const ctx = (trainSteps: number): PluginContext => ({
  configDir: '.',
  seed: 0,
  memoryPlan: defaultMemoryPlan(),
  trainSteps,
  backend: 'cpu',
  log: () => {},
});

test('defaults: TRL learning rate, torch betas/eps, weight decay 0 (adam) and 0.01 (adamw), constant schedule', (t) => {
  const a = adamPlugin.options.parse({});
  t.deepEqual(a, {
    learningRate: 1.41e-5,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    schedule: 'constant',
    warmupSteps: 0,
    totalSteps: null,
  });
  const w = adamwPlugin.options.parse({});
  t.is(w.weightDecay, 0.01);
  t.is(adamPlugin.kind, 'optimiser');
  t.is(adamwPlugin.name, 'adamw');
});

test('bad options are rejected naming the field; unknown keys too', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ learningRate: -1 }, /learningRate/],
    [{ betas: [0.9, 1] }, /betas\.1/],
    [{ betas: [0.9] }, /betas/],
    [{ eps: -1e-8 }, /eps/],
    [{ weightDecay: -0.01 }, /weightDecay/],
    [{ schedule: 'step' }, /schedule/],
    [{ warmupSteps: 1.5 }, /warmupSteps/],
    [{ totalSteps: 0 }, /totalSteps/],
    [{ learningrate: 1e-5 }, /learningrate/],
  ];
  for (const [raw, re] of bad) {
    const r = adamwPlugin.options.safeParse(raw);
    t.false(r.success, JSON.stringify(raw));
    const where = r.error!.issues.map((i) => [...i.path, ...('keys' in i ? (i.keys as string[]) : [])].join('.')).join(' ');
    t.regex(where, re, JSON.stringify(raw));
  }
});

test("create: totalSteps null takes the run's train.steps; the schedule follows transformers' linear warm-up/decay", async (t) => {
  const opt = await adamPlugin.create(adamPlugin.options.parse({ learningRate: 1e-3, schedule: 'linear', warmupSteps: 2 }), ctx(10));
  t.is(opt.name, 'adam');
  const lrs: number[] = [];
  for (let s = 0; s <= 10; s++) {
    lrs.push(opt.learningRate());
    opt.advanceSchedule();
  }
  const want = [0, 0.5, 1, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8, 0].map((m) => 1e-3 * m);
  lrs.forEach((lr, i) => t.true(Math.abs(lr - want[i]!) < 1e-18, `step ${i}: ${lr} vs ${want[i]}`));
  // An explicit totalSteps wins over train.steps.
  const cos = await adamwPlugin.create(adamwPlugin.options.parse({ learningRate: 2, schedule: 'cosine', totalSteps: 4 }), ctx(1000));
  t.is(cos.name, 'adamw');
  const got = [0, 1, 2, 3, 4].map(() => {
    const lr = cos.learningRate();
    cos.advanceSchedule();
    return lr;
  });
  [2, 1 + Math.SQRT1_2, 1, 1 - Math.SQRT1_2, 0].forEach((w, i) => t.true(Math.abs(got[i]! - w) < 1e-15));
  opt.dispose();
  cos.dispose();
});

test('create: warm-up longer than the schedule is an error naming the fields and where totalSteps came from', async (t) => {
  await t.throwsAsync(async () => adamwPlugin.create(adamwPlugin.options.parse({ schedule: 'linear', warmupSteps: 20 }), ctx(10)), {
    message:
      'optimiser "adamw": warmupSteps (20) must be ≤ totalSteps (10) for the linear schedule (totalSteps is null, so it is train.steps = 10)',
  });
  await t.notThrowsAsync(async () => adamPlugin.create(adamPlugin.options.parse({ warmupSteps: 20 }), ctx(10)));
});

test('the created optimiser updates variables like the class (AdamW decays, Adam with wd 0 does not)', async (t) => {
  const run = async (plugin: typeof adamPlugin, opts: object): Promise<number> => {
    const v = tf.variable(tf.scalar(1), true, `plugin-run-${plugin.name}-${JSON.stringify(opts)}`);
    const opt = await plugin.create(plugin.options.parse({ learningRate: 0.1, ...opts }), ctx(10));
    const g = tf.scalar(0);
    opt.apply([v], [g]);
    const out = v.dataSync()[0]!;
    opt.dispose();
    tf.dispose([v, g]);
    return out;
  };
  // Zero gradient: Adam leaves θ = 1; AdamW with wd 0.5 gives θ·(1 − 0.1·0.5) = 0.95.
  t.is(await run(adamPlugin, {}), 1);
  t.is(await run(adamwPlugin, { weightDecay: 0.5 }), Math.fround(0.95));
});
