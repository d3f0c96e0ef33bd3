/** The cross-entropy with a written-out gradient: value by hand, value and gradient equal to −mean(logprobsFromLogitsTf). */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { logprobsFromLogitsTf } from '../../core/ppo/batch.js';
import { meanCrossEntropy } from '../../core/pretrain/lm-loss.js';

test.before(async () => {
  await initBackend('wasm');
});

test.serial('meanCrossEntropy: value by hand; gradient (softmax − onehot) / N', async (t) => {
  const logits = tf.tensor2d([
    [1, 2, 3],
    [0, 0, Math.log(2)],
  ]); // [2, 3]
  const targets = tf.tensor1d([2, 0], 'int32'); // [2]
  const loss = meanCrossEntropy(logits, targets); // []
  const lse0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  const expected = (lse0 - 3 + (Math.log(4) - 0)) / 2;
  t.true(Math.abs((await loss.data())[0]! - expected) < 1e-6);
  const g = tf.grad((x: tf.Tensor) => meanCrossEntropy(x as tf.Tensor2D, targets))(logits); // [2, 3]
  const p0 = [1, 2, 3].map((v) => Math.exp(v - lse0));
  const want = [p0[0]! / 2, p0[1]! / 2, (p0[2]! - 1) / 2, (0.25 - 1) / 2, 0.25 / 2, 0.5 / 2];
  Array.from(await g.data()).forEach((v, i) => t.true(Math.abs(v - want[i]!) < 1e-6, `grad[${i}] ${v} vs ${want[i]}`));
  tf.dispose([logits, targets, loss, g]);
});

test.serial('meanCrossEntropy equals −mean(logprobsFromLogitsTf) in value and gradient; no tensor is left behind', async (t) => {
  const N = 64;
  const V = 50;
  const x = tf.variable(tf.mul(tf.randomNormal([N, V], 0, 1, 'float32', 3), tf.scalar(4)) as tf.Tensor2D); // [N, V]
  const y = tf.randomUniform([N], 0, V, 'int32', 4) as tf.Tensor1D; // [N]
  const before = tf.memory().numTensors;
  const a = tf.variableGrads(() => meanCrossEntropy(x, y), [x]); // value [], grads [N, V]
  const b = tf.variableGrads(
    () => tf.neg(tf.mean(logprobsFromLogitsTf(tf.reshape(x, [1, N, V]) as tf.Tensor3D, tf.reshape(y, [1, N]) as tf.Tensor2D)) as tf.Scalar),
    [x],
  );
  t.true(Math.abs((await a.value.data())[0]! - (await b.value.data())[0]!) < 1e-5);
  const ga = await a.grads[x.name]!.data();
  const gb = await b.grads[x.name]!.data();
  let maxDiff = 0;
  for (let i = 0; i < ga.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ga[i]! - gb[i]!));
  t.true(maxDiff < 1e-7, `max gradient difference ${maxDiff}`);
  tf.dispose([a.value, b.value, a.grads[x.name]!, b.grads[x.name]!]);
  t.is(tf.memory().numTensors, before, 'saved tensors are released by the backward pass');
  const plain = meanCrossEntropy(x, y); // [] outside any gradient tape: nothing is saved
  plain.dispose();
  t.is(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});
