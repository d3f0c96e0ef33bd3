import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { setFastKernelsEnabled } from '../../core/model/wasm/simd.js';
import { Adam, AdamW, type AdamOptions } from '../../core/optim/adam.js';
import { SeededRandom } from '../../core/model/seeded-random.js';

test.before(async () => {
  await initBackend('wasm', { matmul: 'js' });
});

/** Values over 70 orders of magnitude, both signs, with zeros and subnormals among them. */
function wideValues(n: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, (_, i) => {
    if (i % 97 === 0) return 0;
    if (i % 89 === 0) return (rng.next() < 0.5 ? -1 : 1) * 3e-39 * rng.next(); // subnormal
    const mag = 10 ** (-30 + 33 * rng.next());
    return (rng.next() < 0.5 ? -1 : 1) * mag;
  });
}

/** Weights after `steps` updates with the given optimiser factory, with the wasm kernels on or off. */
function run(make: () => Adam, fused: boolean, steps: number): Float32Array[] {
  const prev = setFastKernelsEnabled(fused);
  try {
    const shapes = [[1027], [16, 33], [4]];
    const vars = shapes.map((s, i) =>
      tf.variable(
        tf.tensor(
          wideValues(
            s.reduce((a, b) => a * b),
            10 + i,
          ),
          s,
        ),
        true,
        `aw${fused}#${i}#${Math.random()}`,
      ),
    );
    const opt = make();
    for (let k = 0; k < steps; k++) {
      const grads = shapes.map((s, i) =>
        tf.tensor(
          wideValues(
            s.reduce((a, b) => a * b),
            100 * k + i,
          ),
          s,
        ),
      );
      opt.apply(vars, grads);
      tf.dispose(grads);
    }
    const out: Float32Array[] = vars.map((v) => (v.dataSync() as Float32Array).slice());
    const state = opt.getState();
    out.push(...Object.values(state.arrays).map((a) => a.data as Float32Array));
    opt.dispose();
    tf.dispose(vars);
    return out;
  } finally {
    setFastKernelsEnabled(prev);
  }
}

const cases: [string, () => Adam][] = [
  ['Adam', () => new Adam({ learningRate: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 })],
  ['Adam with L2 weight decay', () => new Adam({ learningRate: 3e-4, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.01 })],
  ['AdamW', () => new AdamW({ learningRate: 2e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 })],
];

for (const [name, make] of cases) {
  test(`${name}: the one-pass wasm update is bit-identical to the tensor-op update (weights and moments, 6 steps)`, (t) => {
    const fused = run(make, true, 6);
    const composite = run(make, false, 6);
    t.is(fused.length, composite.length);
    fused.forEach((a, i) => {
      const b = composite[i]!;
      t.is(a.length, b.length);
      const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
      const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
      let differ = 0;
      for (let j = 0; j < ua.length; j++) if (ua[j] !== ub[j]) differ++;
      t.is(differ, 0, `array ${i}: ${differ} of ${a.length} values differ in their bits`);
    });
    // And the update did something: the weights moved.
    t.notDeepEqual(Array.from(fused[0]!.slice(0, 20)), Array.from(wideValues(1027, 10).slice(0, 20)));
  });
}

test('the one-pass update keeps the tensor count flat and updates moments in place', (t) => {
  const v = tf.variable(tf.randomNormal([300]), true, `aw-flat#${Math.random()}`);
  const opt = new Adam({ learningRate: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 } satisfies AdamOptions);
  const g = tf.randomNormal([300]);
  opt.apply([v], [g]); // creates the moments
  const before = tf.memory().numTensors;
  for (let k = 0; k < 10; k++) opt.apply([v], [g]);
  t.is(tf.memory().numTensors, before);
  t.is(opt.getState().scalars[`${v.name}/step`], 11);
  tf.dispose([v, g]);
  opt.dispose();
});
