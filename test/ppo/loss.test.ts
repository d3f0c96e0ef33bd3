import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import {
  disposePpoLossTfOutput,
  keepPpoLossTfOutput,
  ppoLossTf,
  readPpoLossStats,
  type PpoLossTfInput,
  type PpoLossTfOutput,
} from '../../core/ppo/loss.js';
import { btFrom, type Float64BT } from '../../core/ppo/arrays.js';
import { ppoLoss, type PpoLossConfig, type PpoLossInput } from '../../core/ppo/math.js';
import { assertClose, flat, loadGolden, toBT, toBTV, type GoldenCase, type Nested, type Tol } from './golden-fixture.js';

const golden = loadGolden();
/** float32 evaluation of float64 golden values. */
const TF32: Tol = { abs: 1e-6, rel: 1e-5 };

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const configOf = (c: GoldenCase, ratioThreshold = c.config.ratio_threshold): PpoLossConfig => ({
  cliprange: c.config.cliprange,
  cliprangeValue: c.config.cliprange_value,
  vfCoef: c.config.vf_coef,
  ratioThreshold,
});

const t2 = (x: Nested[]): tf.Tensor2D => tf.tensor2d(x as number[][], undefined, 'float32');

/** The golden loss inputs as float32 tensors (caller disposes). */
function tfInputs(c: GoldenCase): PpoLossTfInput {
  const g = c.loss.inputs;
  return {
    logprobs: t2(g.logprobs),
    vpreds: t2(g.vpreds),
    oldLogprobs: t2(g.old_logprobs),
    oldValues: t2(g.values),
    advantages: t2(g.advantages),
    returns: t2(g.returns),
    mask: tf.tensor2d(g.mask as number[][], undefined, 'int32'),
    logits: tf.tensor3d(g.logits as number[][][], undefined, 'float32'),
  };
}

/** The golden loss inputs in float64, with logprobs/vpreds replaced (for finite differences). */
function f64Inputs(c: GoldenCase, logprobs?: Float64BT, vpreds?: Float64BT): PpoLossInput {
  const g = c.loss.inputs;
  return {
    oldLogprobs: toBT(g.old_logprobs),
    values: toBT(g.values),
    logits: toBTV(g.logits),
    vpreds: vpreds ?? toBT(g.vpreds),
    logprobs: logprobs ?? toBT(g.logprobs),
    mask: toBT(g.mask),
    advantages: toBT(g.advantages),
    returns: toBT(g.returns),
  };
}

function disposeInputs(input: PpoLossTfInput): void {
  tf.dispose(Object.values(input) as tf.Tensor[]);
}

for (const c of golden.cases) {
  test(`${c.name}: TF.js loss matches TRL's float64 outputs at float32 precision`, async (t) => {
    const input = tfInputs(c);
    const out = ppoLossTf(input, configOf(c));
    const g = c.loss;
    assertClose(t, [(await out.loss.data())[0]], [g.stats['loss/total'] as number], TF32, 'loss');
    assertClose(t, [(await out.pgLoss.data())[0]], [g.pg_loss], TF32, 'pg_loss');
    assertClose(t, [(await out.vfLossScaled.data())[0]], [g.vf_loss_times_vf_coef], TF32, 'vf_loss_times_vf_coef');
    assertClose(t, [(await out.vfLoss.data())[0]], [g.stats['loss/value'] as number], TF32, 'vf_loss');
    t.is((await out.skipped.data())[0], 0);
    assertClose(t, await out.ratio.data(), flat(g.stats['policy/ratio']), TF32, 'ratio');

    // Every golden stat key is produced (the two [B, T] arrays through readPpoLossStats).
    const adv = toBT(g.inputs.advantages);
    const stats = await readPpoLossStats(out, adv);
    t.deepEqual(Object.keys(stats).sort(), Object.keys(g.stats).sort());
    for (const [key, expected] of Object.entries(g.stats)) {
      const v = stats[key as keyof typeof stats];
      assertClose(t, typeof v === 'number' ? [v] : v.data, flat(expected), TF32, `stats.${key}`);
    }
    disposePpoLossTfOutput(out);
    disposeInputs(input);
  });

  test(`${c.name}: TF.js gradients w.r.t. logprobs and vpreds match float64 finite differences`, (t) => {
    const input = tfInputs(c);
    const config = configOf(c);
    const [gLp, gVp] = tf.grads((lp: tf.Tensor, vp: tf.Tensor) => {
      const out = ppoLossTf({ ...input, logprobs: lp as tf.Tensor2D, vpreds: vp as tf.Tensor2D }, config);
      return out.loss;
    })([input.logprobs, input.vpreds]);
    const gradLp = gLp.dataSync();
    const gradVp = gVp.dataSync();

    const base = f64Inputs(c);
    const { B, T } = base.logprobs;
    const h = 1e-6;
    const fd = (which: 'logprobs' | 'vpreds', i: number): number => {
      const plus = Float64Array.from(base[which].data);
      const minus = Float64Array.from(base[which].data);
      plus[i] += h;
      minus[i] -= h;
      const at = (d: Float64Array) =>
        ppoLoss(which === 'logprobs' ? f64Inputs(c, btFrom(d, B, T)) : f64Inputs(c, undefined, btFrom(d, B, T)), config).loss;
      return (at(plus) - at(minus)) / (2 * h);
    };
    const tol: Tol = { abs: 1e-6, rel: 1e-4 };
    const fdLp = Array.from({ length: B * T }, (_, i) => fd('logprobs', i));
    const fdVp = Array.from({ length: B * T }, (_, i) => fd('vpreds', i));
    assertClose(t, gradLp, fdLp, tol, 'd loss / d logprobs');
    assertClose(t, gradVp, fdVp, tol, 'd loss / d vpreds');
    // Masked-out positions get no gradient; and the gradient is not trivially zero.
    const mask = flat(c.inputs.mask);
    mask.forEach((m, i) => {
      if (m === 0) {
        t.true(gradLp[i] === 0, `logprobs grad at masked position ${i}`);
        t.true(gradVp[i] === 0, `vpreds grad at masked position ${i}`);
      }
    });
    t.true(fdLp.some((x) => Math.abs(x) > 1e-3));
    t.true(fdVp.some((x) => Math.abs(x) > 1e-3));
    tf.dispose([gLp, gVp]);
    disposeInputs(input);
  });
}

test('ratio_threshold skip: loss, pg and vf are zero, and so is every gradient', async (t) => {
  const c = golden.cases.find((x) => x.loss.ratio_threshold_probe !== undefined)!;
  const p = c.loss.ratio_threshold_probe!;
  const input = tfInputs(c);
  const config = configOf(c, p.ratio_threshold);
  const out = ppoLossTf(input, config);
  t.is((await out.skipped.data())[0], 1);
  t.is((await out.loss.data())[0], p.stats_loss_total);
  t.is((await out.pgLoss.data())[0], p.pg_loss);
  t.is((await out.vfLossScaled.data())[0], p.vf_loss_times_vf_coef);
  t.is((await out.stats['loss/policy'].data())[0], p.stats_loss_policy);
  t.is((await out.stats['loss/value'].data())[0], p.stats_loss_value);
  t.true((await out.avgRatio.data())[0] > p.ratio_threshold);
  disposePpoLossTfOutput(out);
  const grads = tf.grads(
    (lp: tf.Tensor, vp: tf.Tensor) => ppoLossTf({ ...input, logprobs: lp as tf.Tensor2D, vpreds: vp as tf.Tensor2D }, config).loss,
  )([input.logprobs, input.vpreds]);
  for (const g of grads) t.true(Array.from(g.dataSync()).every((x) => x === 0));
  tf.dispose(grads);
  disposeInputs(input);
});

test('entropy is NaN without logits; bad shapes and dtypes are rejected with the field name', (t) => {
  const c = golden.cases[0];
  const input = tfInputs(c);
  const { logits, ...noLogits } = input;
  const out = ppoLossTf(noLogits, configOf(c));
  t.true(Number.isNaN(out.stats['policy/entropy'].dataSync()[0]));
  disposePpoLossTfOutput(out);
  const wrong = tf.zeros([2, 3]) as tf.Tensor2D;
  t.throws(() => ppoLossTf({ ...input, returns: wrong }, configOf(c)), { message: /returns has shape \[2, 3\] but logprobs is \[2, 5\]/ });
  const ints = tf.zeros([2, 5], 'int32') as tf.Tensor2D;
  t.throws(() => ppoLossTf({ ...input, vpreds: ints }, configOf(c)), { message: /vpreds must be float32; got int32/ });
  t.throws(() => ppoLossTf(input, { ...configOf(c), vfCoef: NaN }), { message: /config.vfCoef must be a number/ });
  tf.dispose([wrong, ints, logits]);
  disposeInputs(noLogits as PpoLossTfInput);
});

test('no tensor leaks: loss + gradients + kept statistics, 25 iterations', (t) => {
  const c = golden.cases[1];
  const input = tfInputs(c);
  const config = configOf(c);
  const lp = tf.variable(input.logprobs, true, 'lp');
  const vp = tf.variable(input.vpreds, true, 'vp');
  const step = () => {
    let out: PpoLossTfOutput | undefined;
    const { value, grads } = tf.variableGrads(() => {
      out = keepPpoLossTfOutput(ppoLossTf({ ...input, logprobs: lp, vpreds: vp }, config));
      return out.loss;
    }, [lp, vp]);
    const clipfrac = out!.stats['policy/clipfrac'].dataSync()[0];
    disposePpoLossTfOutput(out!);
    tf.dispose([value, ...Object.values(grads)]);
    return clipfrac;
  };
  step(); // warm-up (backend-internal allocations, if any)
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  for (let i = 0; i < 25; i++) {
    t.is(step(), Math.fround(c.loss.stats['policy/clipfrac'] as number));
    counts.push(tf.memory().numTensors);
  }
  t.true(
    counts.every((n) => n === before),
    `numTensors stayed at ${before}: ${counts.join(',')}`,
  );
  tf.dispose([lp, vp]);
  disposeInputs(input);
});
