import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Adam, AdamW, type AdamOptions } from '../../core/optim/adam.js';
import { loadTorchReference, maxAbsDiff } from './fixture.js';

const ref = loadTorchReference();
const NAMES = Object.keys(ref.init);

test.before(async () => {
  await tf.setBackend('cpu');
});

let unique = 0;
/** Fresh variables holding the fixture's initial parameters, with names unique to this test. */
function makeVars(prefix: string): tf.Variable[] {
  const tag = `${prefix}#${++unique}`;
  return NAMES.map((n) => tf.variable(tf.tensor(ref.init[n]!.data, ref.init[n]!.shape), true, `${tag}/${n}`));
}
const gradsAt = (k: number): tf.Tensor[] => NAMES.map((n) => tf.tensor(ref.grads[k % ref.grads.length]![n]!, ref.init[n]!.shape)); // [S] each
const paramName = (v: tf.Variable): string => v.name.slice(v.name.lastIndexOf('/') + 1);

function optimiserFor(c: (typeof ref.cases)[number]): Adam {
  const options: AdamOptions = {
    learningRate: c.lr,
    betas: c.betas,
    eps: c.eps,
    weightDecay: c.weight_decay,
    schedule: { kind: c.schedule, warmupSteps: c.warmup, totalSteps: c.total },
  };
  return c.optimiser === 'adamw' ? new AdamW(options) : new Adam(options);
}

for (const c of ref.cases) {
  test(`${c.name} matches torch.optim.${c.optimiser === 'adam' ? 'Adam' : 'AdamW'} + LambdaLR step by step (≤ 1e-6)`, (t) => {
    const vars = makeVars(c.name);
    const opt = optimiserFor(c);
    t.is(opt.name, c.optimiser);
    let worst = 0;
    for (let k = 0; k < ref.steps; k++) {
      t.true(
        Math.abs(opt.learningRate() - c.lrs[k]!) <= 1e-15 * Math.max(1, c.lrs[k]!),
        `step ${k}: lr ${opt.learningRate()} vs ${c.lrs[k]}`,
      );
      const grads = gradsAt(k);
      opt.apply(vars, grads);
      opt.advanceSchedule();
      tf.dispose(grads);
      for (const v of vars) {
        const d = maxAbsDiff(v.dataSync(), c.params[k]![paramName(v)]!);
        worst = Math.max(worst, d);
        t.true(d <= 1e-6, `step ${k} ${paramName(v)}: max |Δ| ${d}`);
      }
    }
    // Past totalSteps the cosine schedule holds 0 where transformers' formula rises again (schedule.ts).
    const nextLr = c.schedule === 'cosine' && ref.steps > c.total ? 0 : c.nextLr;
    t.true(Math.abs(opt.learningRate() - nextLr) <= 1e-15, `next lr ${opt.learningRate()} vs ${nextLr}`);
    const state = opt.getState();
    t.is(state.step, ref.steps);
    t.is(state.scalars['scheduleStep'], ref.steps);
    for (const v of vars) {
      const s = c.state[paramName(v)]!;
      t.is(state.scalars[`${v.name}/step`], s.step);
      const dm = maxAbsDiff(state.arrays[`${v.name}/m`]!.data, s.m);
      const dv = maxAbsDiff(state.arrays[`${v.name}/v`]!.data, s.v);
      t.true(dm <= 1e-6 && dv <= 1e-6, `${paramName(v)}: exp_avg |Δ| ${dm}, exp_avg_sq |Δ| ${dv}`);
    }
    t.log(`${c.name}: worst parameter |Δ| vs torch over ${ref.steps} steps = ${worst.toExponential(2)}`);
    opt.dispose();
    tf.dispose(vars);
  });
}

test('eps sits outside the square root: 1e-8-sized gradients still move the parameter by ≈ lr', (t) => {
  // The fixture's "b" gradients are ~1e-8, so m̂/(√v̂ + eps) ≈ 0.5 with eps = 1e-8, but would be
  // ~1e-4 with eps inside the root. Step 1 of adam-constant: |Δb| must be a sizeable part of lr.
  const c = ref.cases.find((x) => x.name === 'adam-constant')!;
  const moved = maxAbsDiff(c.params[0]!['b']!, ref.init['b']!.data);
  t.true(moved > 0.3 * c.lr && moved < c.lr, `reference moved b by ${moved}`);
  const vars = makeVars('eps');
  const opt = optimiserFor(c);
  const grads = gradsAt(0);
  opt.apply(vars, grads);
  t.true(Math.abs(maxAbsDiff(vars[1]!.dataSync(), ref.init['b']!.data) - moved) < 1e-7);
  tf.dispose(grads);
  opt.dispose();
  tf.dispose(vars);
});

test('Adam (L2) and AdamW (decoupled) agree without weight decay and differ with it', (t) => {
  const run = (Cls: typeof Adam, wd: number): Float32Array[] => {
    const vars = makeVars(`cmp${wd}`);
    const opt = new Cls({ learningRate: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd });
    for (let k = 0; k < 3; k++) {
      const g = gradsAt(k);
      opt.apply(vars, g);
      tf.dispose(g);
    }
    const out = vars.map((v) => v.dataSync().slice() as Float32Array);
    opt.dispose();
    tf.dispose(vars);
    return out;
  };
  t.deepEqual(run(Adam, 0), run(AdamW, 0));
  t.true(maxAbsDiff(run(Adam, 0.1)[0]!, run(AdamW, 0.1)[0]!) > 1e-4);
});

test('no tensor leak: numTensors stays flat over 20 steps, and dispose() frees the moments', (t) => {
  const vars = makeVars('leak');
  const before = tf.memory().numTensors;
  const opt = new AdamW({
    learningRate: 0.01,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0.01,
    schedule: { kind: 'cosine', warmupSteps: 2, totalSteps: 20 },
  });
  const grads = gradsAt(0);
  opt.apply(vars, grads);
  const afterFirst = tf.memory().numTensors;
  const bytesAfterFirst = tf.memory().numBytes;
  t.is(afterFirst, before + grads.length + 2 * vars.length); // the gradients + m and v per variable
  for (let k = 1; k < 20; k++) {
    opt.apply(vars, grads);
    opt.advanceSchedule();
    t.is(tf.memory().numTensors, afterFirst, `step ${k}`);
    t.is(tf.memory().numBytes, bytesAfterFirst, `step ${k}`);
  }
  opt.getState();
  t.is(tf.memory().numTensors, afterFirst);
  opt.dispose();
  tf.dispose(grads);
  t.is(tf.memory().numTensors, before);
  tf.dispose(vars);
});

test('exact resume: 10 steps equal 5 steps + getState/setState into a new optimiser + 5 steps, bit for bit', (t) => {
  const options: AdamOptions = {
    learningRate: 0.02,
    betas: [0.9, 0.99],
    eps: 1e-8,
    weightDecay: 0.05,
    schedule: { kind: 'linear', warmupSteps: 2, totalSteps: 10 },
  };
  const step = (opt: Adam, vars: tf.Variable[], k: number) => {
    const g = gradsAt(k);
    opt.apply(vars, g);
    opt.advanceSchedule();
    tf.dispose(g);
  };
  // Straight through.
  const a = makeVars('resumeA');
  const optA = new AdamW(options);
  for (let k = 0; k < 10; k++) step(optA, a, k);
  // Five steps, save (state + weights as plain arrays), then a fresh optimiser and fresh variables.
  const b = makeVars('resumeB');
  const optB = new AdamW(options);
  for (let k = 0; k < 5; k++) step(optB, b, k);
  const saved = optB.getState();
  const savedWeights = b.map((v) => v.dataSync().slice() as Float32Array);
  const savedLr = optB.learningRate();
  optB.dispose();
  tf.dispose(b);
  const c = makeVars('resumeB'); // different names: rename the saved keys as a checkpoint loader would
  const rename = (key: string) => key.replace(/^resumeB#\d+\//, c[0]!.name.slice(0, c[0]!.name.indexOf('/') + 1));
  const state = {
    step: saved.step,
    scalars: Object.fromEntries(Object.entries(saved.scalars).map(([k, v]) => [rename(k), v])),
    arrays: Object.fromEntries(Object.entries(saved.arrays).map(([k, v]) => [rename(k), v])),
  };
  c.forEach((v, i) => v.assign(tf.tensor(savedWeights[i]!, v.shape)));
  const optC = new AdamW(options);
  optC.setState(state, c);
  t.is(optC.learningRate(), savedLr);
  for (let k = 5; k < 10; k++) step(optC, c, k);
  a.forEach((v, i) => t.deepEqual(c[i]!.dataSync(), v.dataSync(), `variable ${paramName(v)}`));
  const sa = optA.getState();
  const sc = optC.getState();
  t.is(sc.step, sa.step);
  t.is(sc.scalars['scheduleStep'], 10);
  t.is(optC.learningRate(), optA.learningRate());
  for (const n of NAMES) {
    for (const k of ['m', 'v']) {
      t.deepEqual(sc.arrays[`${c[0]!.name.split('/')[0]}/${n}/${k}`]!.data, sa.arrays[`${a[0]!.name.split('/')[0]}/${n}/${k}`]!.data);
    }
  }
  // The saved arrays were copied, not aliased: mutating them now changes nothing.
  state.arrays[Object.keys(state.arrays)[0]!]!.data.fill(123);
  t.deepEqual(optC.getState().arrays, sc.arrays);
  optA.dispose();
  optC.dispose();
  tf.dispose([...a, ...c]);
});

test('two optimisers can hold moments for the same variable (moment names do not collide)', (t) => {
  const vars = makeVars('two');
  const g = gradsAt(0);
  const o1 = new Adam({ learningRate: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  const o2 = new Adam({ learningRate: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
  t.notThrows(() => {
    o1.apply(vars, g);
    o2.apply(vars, g);
  });
  o1.dispose();
  o2.dispose();
  tf.dispose([...g, ...vars]);
});

test('errors name the field and what is allowed', (t) => {
  const base = { learningRate: 0.01, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0 };
  t.throws(() => new Adam({ ...base, betas: [0.9, 1] }), { message: /betas\[1\] must be in \[0, 1\) \(got 1\)/ });
  t.throws(() => new Adam({ ...base, learningRate: -1 }), { message: /learningRate must be a finite number ≥ 0 \(got -1\)/ });
  t.throws(() => new AdamW({ ...base, eps: Number.NaN }), { message: /adamw: eps/ });
  t.throws(() => new AdamW({ ...base, weightDecay: -0.1 }), { message: /weightDecay/ });
  t.throws(() => new Adam({ ...base, schedule: { kind: 'linear', warmupSteps: 11, totalSteps: 10 } }), {
    message: /warmupSteps \(11\) must be ≤ totalSteps \(10\)/,
  });

  const vars = makeVars('err');
  const opt = new Adam(base);
  const g = gradsAt(0);
  t.throws(() => opt.apply(vars, g.slice(1)), { message: /3 variables but 2 gradients/ });
  const wrong = [g[1]!, g[0]!, g[2]!];
  t.throws(() => opt.apply(vars, wrong), { message: /gradient for ".*\/w" has shape \[4\] but the variable is \[3,4\]/ });
  opt.apply(vars, g);
  const state = opt.getState();
  const other = makeVars('err-other');
  t.throws(() => opt.setState(state, other), { message: /not among the 3 variables given/ });
  const key = `${vars[0]!.name}/m`;
  const badShape = { ...state, arrays: { ...state.arrays, [key]: { shape: [4, 3], data: state.arrays[key]!.data } } };
  t.throws(() => opt.setState(badShape, vars), { message: /has shape \[4,3\] but variable ".*\/w" is \[3,4\]/ });
  t.throws(() => opt.setState({ ...state, scalars: { ...state.scalars, scheduleStep: -1 } }, vars), {
    message: /scalars.scheduleStep must be an integer ≥ 0/,
  });
  // A failed setState leaves the optimiser as it was.
  t.deepEqual(opt.getState(), state);
  opt.dispose();
  tf.dispose([...g, ...vars, ...other]);
});
