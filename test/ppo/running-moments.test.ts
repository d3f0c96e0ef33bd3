import test from 'ava';
import fs from 'node:fs';
import { processScores, RunningMoments } from '../../core/ppo/running-moments.js';
import { assertClose, F32, loadGolden, ppoFixture, type Tol } from './golden-fixture.js';

const golden = loadGolden();

test('golden: sequential updates reproduce TRL bit for bit (batch stats, mean, std, var, count, scaled, normed)', (t) => {
  const plain = new RunningMoments();
  const forScaling = new RunningMoments();
  const forNorm = new RunningMoments();
  t.deepEqual(plain.state(), { mean: 0, std: 1, var: 1, count: 1e-24 });
  t.is(golden.running_moments_float32.length, 2);
  for (const [i, e] of golden.running_moments_float32.entries()) {
    t.deepEqual(Object.keys(e).sort(), [
      'count',
      'mean',
      'returned_batch_mean_std',
      'scaled_use_score_norm',
      'scaled_use_score_scaling',
      'scores',
      'std',
      'var',
    ]);
    const ret = plain.update(e.scores);
    t.deepEqual([ret.mean, ret.std], e.returned_batch_mean_std, `update ${i}: returned batch mean/std`);
    t.is(plain.mean, e.mean, `update ${i}: mean (a float64 accumulating float32 increments)`);
    t.is(plain.std, e.std, `update ${i}: std`);
    t.is(plain.var, e.var, `update ${i}: var`);
    t.is(plain.count, e.count, `update ${i}: count`);
    const scaled = processScores(e.scores, forScaling, { useScoreScaling: true, useScoreNorm: false });
    assertClose(t, scaled, e.scaled_use_score_scaling, F32, `update ${i}: use_score_scaling`);
    t.deepEqual(Array.from(scaled), e.scaled_use_score_scaling);
    const normed = processScores(e.scores, forNorm, { useScoreScaling: true, useScoreNorm: true });
    t.deepEqual(Array.from(normed), e.scaled_use_score_norm, `update ${i}: use_score_norm`);
  }
  // The second update's mean is not a float32 value (TRL keeps it as a Python float).
  t.not(Math.fround(plain.mean), plain.mean);
});

test('torch reference: 40 random updates with scaling, normalisation and clipping (float32 ~1e-7)', (t) => {
  const ref = JSON.parse(fs.readFileSync(ppoFixture('running-moments-torch.json'), 'utf8')) as {
    steps: {
      scores: number[];
      returned_batch_mean_std: [number, number];
      mean: number;
      std: number;
      var: number;
      count: number;
      scaled: number[];
      normed: number[];
      'normed_clip_0.7': number[];
    }[];
  };
  // torch accumulates var_mean in a different order, so a float32 result may differ by 1 ulp (≤ 1.2e-7 rel).
  const ulp: Tol = { abs: 0, rel: 2.4e-7 };
  const plain = new RunningMoments();
  const a = new RunningMoments();
  const b = new RunningMoments();
  const c = new RunningMoments();
  let exact = 0;
  let total = 0;
  t.is(ref.steps.length, 40);
  for (const [i, s] of ref.steps.entries()) {
    const ret = plain.update(s.scores);
    assertClose(t, [ret.mean, ret.std], s.returned_batch_mean_std, ulp, `step ${i}: batch stats`);
    assertClose(t, [plain.mean, plain.std, plain.var], [s.mean, s.std, s.var], ulp, `step ${i}: running`);
    t.is(plain.count, s.count);
    const outs = [
      [processScores(s.scores, a, { useScoreScaling: true, useScoreNorm: false }), s.scaled],
      [processScores(s.scores, b, { useScoreScaling: true, useScoreNorm: true }), s.normed],
      [processScores(s.scores, c, { useScoreScaling: true, useScoreNorm: true, scoreClip: 0.7 }), s['normed_clip_0.7']],
    ] as const;
    for (const [ours, theirs] of outs) {
      // Normalised scores near 0 lose relative precision: allow one float32 ulp of the operands (~1e-7 abs).
      assertClose(t, ours, theirs, { abs: 2.4e-7, rel: 2.4e-7 }, `step ${i}: processed scores`);
      ours.forEach((x, j) => {
        total++;
        if (x === theirs[j]) exact++;
      });
    }
  }
  t.true(exact / total > 0.99, `bitwise-equal processed scores: ${exact}/${total}`);
  t.log(`bitwise-equal processed scores: ${exact}/${total}`);
});

test('processScores: norm needs scaling (as in TRL), clipping alone, float64 dtype, input untouched', (t) => {
  const running = new RunningMoments();
  const scores = [0.1, 5, -7];
  const before = running.state();
  // use_score_norm without use_score_scaling does nothing (TRL nests it), and does not touch the moments.
  t.deepEqual(Array.from(processScores(scores, running, { useScoreScaling: false, useScoreNorm: true })), scores.map(Math.fround));
  t.deepEqual(running.state(), before);
  // Clipping alone (TRL clips a float32 copy).
  t.deepEqual(Array.from(processScores(scores, running, { useScoreScaling: false, useScoreNorm: false, scoreClip: 1 })), [
    Math.fround(0.1),
    1,
    -1,
  ]);
  t.deepEqual(scores, [0.1, 5, -7]);
  // float64 scores: eps is 2^-52 and the arithmetic is float64.
  const r64 = new RunningMoments();
  const out = processScores([1, 2, 4], r64, { useScoreScaling: true, useScoreNorm: false, dtype: 'float64' });
  t.deepEqual(
    Array.from(out),
    [1, 2, 4].map((x) => x / (r64.std + Number.EPSILON)),
  );
  t.throws(() => processScores(scores, running, { useScoreScaling: false, useScoreNorm: false, scoreClip: -1 }), {
    message: /scoreClip must be a non-negative finite number; got -1/,
  });
  t.throws(() => processScores(scores, running, { useScoreScaling: false, useScoreNorm: false, dtype: 'int8' as 'float32' }), {
    message: /dtype must be 'float32' or 'float64'; got int8/,
  });
});

test('state()/fromState() resume exactly; bad input is rejected', (t) => {
  const a = new RunningMoments();
  a.update([1, 2, 3]);
  const b = RunningMoments.fromState(JSON.parse(JSON.stringify(a.state())));
  t.deepEqual(a.update([4, 9]), b.update([4, 9]));
  t.deepEqual(a.state(), b.state());
  t.throws(() => a.update([]), { message: /batch of scores is empty/ });
  t.throws(() => a.update([1, NaN]), { message: /score 1 is NaN/ });
  t.throws(() => RunningMoments.fromState({ mean: 0, std: 1, var: 'x' as unknown as number, count: 1 }), {
    message: /state.var must be a finite number/,
  });
  // A single score: the batch std is NaN (n − 1 = 0), as torch gives.
  t.true(Number.isNaN(new RunningMoments().update([3]).std));
});
