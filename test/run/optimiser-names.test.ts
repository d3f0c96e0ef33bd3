/**
 * A checkpoint's optimiser moments are keyed by variable names, which start with the model's per-process instance
 * prefix (`causal_lm_<n>/`); the number depends on the order the plugins were built in. Resuming matches them by the
 * name after the prefix (rebaseOptimiserState), so the moments land on the same weights whatever number each process
 * gave the policy.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../../core/optim/adam.js';
import { rebaseOptimiserState } from '../../core/training/checkpoint.js';

const options = {
  learningRate: 0.01,
  betas: [0.9, 0.999] as [number, number],
  eps: 1e-8,
  weightDecay: 0,
  schedule: { kind: 'constant' as const, warmupSteps: 0, totalSteps: 10 },
};
const vars = (prefix: string) => [
  tf.variable(tf.tensor1d([1, 2, 3]), true, `${prefix}/transformer.wte.weight`),
  tf.variable(tf.tensor1d([-1, 0.5]), true, `${prefix}/v_head.summary.weight`),
];
const grads = () => [tf.tensor1d([0.1, -0.2, 0.3]), tf.tensor1d([0.5, -0.5])];

test('moments saved under causal_lm_1/ resume onto causal_lm_0/ (and the reverse): the next step equals the uninterrupted one', async (t) => {
  await tf.setBackend('cpu');
  const a = vars('causal_lm_1');
  const optA = new Adam(options);
  optA.apply(a, grads());
  const saved = optA.getState();
  const b = vars('causal_lm_0');
  b.forEach((v, i) => v.assign(a[i]!));
  const optB = new Adam(options);
  t.throws(
    () => optB.setState(saved, b),
    { message: /state has moments for variable "causal_lm_1\/transformer\.wte\.weight", which is not among/ },
    'by full names the state does not fit',
  );
  optB.setState(rebaseOptimiserState(saved, b), b);
  optA.apply(a, grads());
  optB.apply(b, grads());
  a.forEach((v, i) => t.deepEqual(Array.from(b[i]!.dataSync()), Array.from(v.dataSync()), v.name));
  const again = rebaseOptimiserState(optB.getState(), a);
  t.deepEqual(
    Object.keys(again.arrays).sort(),
    Object.keys(optA.getState().arrays).sort(),
    'and back: keyed by the names of the variables given',
  );
  tf.dispose([...a, ...b]);
  optA.dispose();
  optB.dispose();
});

test('a key whose weight name is not among the variables, or is ambiguous, is kept as it was (setState then names it)', (t) => {
  const state = {
    step: 1,
    scalars: { scheduleStep: 1, 'causal_lm_3/x/step': 1 },
    arrays: { 'causal_lm_3/x/m': { shape: [1], data: new Float32Array(1) } },
  };
  t.deepEqual(rebaseOptimiserState(state, [{ name: 'causal_lm_0/y' }]).arrays, state.arrays);
  const twice = rebaseOptimiserState(state, [{ name: 'a/x' }, { name: 'b/x' }]);
  t.deepEqual(Object.keys(twice.arrays), ['causal_lm_3/x/m']);
  t.deepEqual(Object.keys(rebaseOptimiserState(state, [{ name: 'causal_lm_0/x' }]).scalars), ['scheduleStep', 'causal_lm_0/x/step']);
});
