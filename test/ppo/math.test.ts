import test from 'ava';
import {
  bt,
  btFrom,
  btToRows,
  clipByValue,
  entropyFromLogits,
  logprobsFromLogits,
  logSoftmax,
  maskedMean,
  maskedRowMean,
  maskedVar,
  maskedWhiten,
  whiten,
  type Float64BT,
} from '../../core/ppo/arrays.js';
import { computeAdvantages, computeRewards, klPenalty, ppoLoss, type PpoLossConfig, type PpoLossStats } from '../../core/ppo/math.js';
import { envRewardStats, stepStats } from '../../core/ppo/step-stats.js';
import { createKLController } from '../../core/ppo/kl-controller.js';
import { assertClose, F32, F64, flat, loadGolden, toBT, toBTV, type GoldenCase } from './golden-fixture.js';

const golden = loadGolden();

const lossConfig = (c: GoldenCase, ratioThreshold = c.config.ratio_threshold): PpoLossConfig => ({
  cliprange: c.config.cliprange,
  cliprangeValue: c.config.cliprange_value,
  vfCoef: c.config.vf_coef,
  ratioThreshold,
});

/** Runs the whole TRL chain on a case's raw inputs with our functions. */
function chain(c: GoldenCase) {
  const { inputs, config } = c;
  const labels = flat(inputs.labels);
  const logits = toBTV(inputs.logits);
  const refLogits = toBTV(inputs.ref_logits);
  const newLogits = toBTV(inputs.new_logits);
  const mask = toBT(inputs.mask);
  const logprobs = logprobsFromLogits(logits, labels);
  const refLogprobs = logprobsFromLogits(refLogits, labels);
  const newLogprobs = logprobsFromLogits(newLogits, labels);
  const rewardsFor = (kind: GoldenConfig['kl_penalty']) =>
    computeRewards({
      scores: inputs.scores,
      logprobs: kind === 'full' ? logSoftmax(logits) : logprobs,
      refLogprobs: kind === 'full' ? logSoftmax(refLogits) : refLogprobs,
      mask,
      klCoef: config.init_kl_coef,
      klPenalty: kind,
    });
  const rewards = rewardsFor(config.kl_penalty);
  const adv = computeAdvantages({
    values: toBT(inputs.values),
    rewards: rewards.rewards,
    mask,
    gamma: config.gamma,
    lam: config.lam,
    whitenRewards: config.whiten_rewards,
  });
  const loss = ppoLoss(
    {
      oldLogprobs: logprobs,
      values: adv.values,
      logits: newLogits,
      vpreds: toBT(inputs.vpreds),
      logprobs: newLogprobs,
      mask,
      advantages: adv.advantages,
      returns: adv.returns,
    },
    lossConfig(c),
  );
  return { logits, refLogits, newLogits, mask, logprobs, refLogprobs, newLogprobs, rewardsFor, rewards, adv, loss };
}
type GoldenConfig = GoldenCase['config'];

test('golden file covers the expected cases', (t) => {
  t.deepEqual(
    golden.cases.map((c) => c.name),
    ['A_b2_T5_kl_default', 'B_b3_T6_abs_gamma099_whiten_rewards', 'C_b2_T4_full_fixedkl'],
  );
  t.deepEqual(new Set(golden.cases.map((c) => c.config.kl_penalty)), new Set(['kl', 'abs', 'full']));
});

for (const c of golden.cases) {
  test(`${c.name}: trl/core.py helpers (every core key)`, (t) => {
    t.deepEqual(Object.keys(c.core).sort(), [
      'clip_by_value',
      'entropy_from_logits',
      'logprobs_from_logits',
      'logprobs_from_logits_new',
      'logprobs_from_logits_nogather',
      'logprobs_from_logits_ref',
      'masked_mean',
      'masked_var',
      'masked_whiten',
      'whiten_unmasked',
    ]);
    const k = c.core;
    for (const name of ['logprobs_from_logits', 'logprobs_from_logits_ref', 'logprobs_from_logits_new'] as const) {
      const g = k[name];
      t.deepEqual(Object.keys(g).sort(), ['labels', 'logits', 'out']);
      const out = logprobsFromLogits(toBTV(g.logits as number[][][]), flat(g.labels));
      assertClose(t, out.data, g.out, F64, `${name}.out`);
    }
    t.deepEqual(k.logprobs_from_logits.logits, c.inputs.logits);
    t.deepEqual(k.logprobs_from_logits_ref.logits, c.inputs.ref_logits);
    t.deepEqual(k.logprobs_from_logits_new.logits, c.inputs.new_logits);
    assertClose(
      t,
      logSoftmax(toBTV(k.logprobs_from_logits_nogather.logits as number[][][])).data,
      k.logprobs_from_logits_nogather.out,
      F64,
      'nogather.out',
    );

    const mm = k.masked_mean;
    const x = toBT(mm.values as number[][]);
    const m = toBT(mm.mask as number[][]);
    assertClose(t, [maskedMean(x, m)], [mm.out as number], F64, 'masked_mean.out');
    assertClose(t, maskedRowMean(x, m), mm.out_axis1, F64, 'masked_mean.out_axis1');

    const mv = k.masked_var;
    const xv = toBT(mv.values as number[][]);
    const mvm = toBT(mv.mask as number[][]);
    assertClose(t, [maskedVar(xv, mvm)], [mv.out_unbiased as number], F64, 'masked_var.out_unbiased');
    assertClose(t, [maskedVar(xv, mvm, false)], [mv.out_biased as number], F64, 'masked_var.out_biased');

    const mw = k.masked_whiten;
    const xw = toBT(mw.values as number[][]);
    const mwm = toBT(mw.mask as number[][]);
    assertClose(t, maskedWhiten(xw, mwm).data, mw.out_shift_mean_true, F64, 'masked_whiten.out_shift_mean_true');
    assertClose(t, maskedWhiten(xw, mwm, false).data, mw.out_shift_mean_false, F64, 'masked_whiten.out_shift_mean_false');

    assertClose(t, whiten(toBT(k.whiten_unmasked.values as number[][])).data, k.whiten_unmasked.out, F64, 'whiten_unmasked.out');
    assertClose(
      t,
      entropyFromLogits(toBTV(k.entropy_from_logits.logits as number[][][])).data,
      k.entropy_from_logits.out,
      F64,
      'entropy_from_logits.out',
    );

    const cb = k.clip_by_value;
    const clipped = clipByValue(toBT(cb.x as number[][]), toBT(cb.min as number[][]), toBT(cb.max as number[][]));
    assertClose(t, clipped.data, cb.out, F64, 'clip_by_value.out');
  });

  test(`${c.name}: compute_rewards for every kl_penalty kind`, (t) => {
    const ch = chain(c);
    t.deepEqual(Object.keys(c.compute_rewards).sort(), ['abs', 'full', 'kl', 'mse']);
    for (const [kind, g] of Object.entries(c.compute_rewards)) {
      t.deepEqual(Object.keys(g).sort(), ['kl_coef', 'kls', 'non_score_reward', 'rewards']);
      t.is(g.kl_coef, c.config.init_kl_coef, `${kind}: β is the controller value before the update`);
      const out = ch.rewardsFor(kind as GoldenConfig['kl_penalty']);
      assertClose(t, out.rewards.data, g.rewards, F64, `${kind}.rewards`);
      assertClose(t, out.nonScoreRewards.data, g.non_score_reward, F64, `${kind}.non_score_reward`);
      assertClose(t, out.kls.data, g.kls, F64, `${kind}.kls`);
    }
  });

  test(`${c.name}: compute_advantages`, (t) => {
    const ch = chain(c);
    const g = c.compute_advantages;
    t.deepEqual(Object.keys(g).sort(), ['advantages', 'kl_penalty_used', 'mask', 'returns', 'rewards', 'values', 'values_in']);
    t.is(g.kl_penalty_used, c.config.kl_penalty);
    assertClose(t, ch.rewards.rewards.data, g.rewards, F64, 'rewards (input)');
    t.deepEqual(g.values_in, c.inputs.values);
    t.deepEqual(g.mask, c.inputs.mask);
    assertClose(t, ch.adv.values.data, g.values, F64, 'values');
    assertClose(t, ch.adv.advantages.data, g.advantages, F64, 'advantages');
    assertClose(t, ch.adv.returns.data, g.returns, F64, 'returns');
  });

  test(`${c.name}: loss (float64) — outputs and every stat`, (t) => {
    const ch = chain(c);
    const g = c.loss;
    // The loss inputs are exactly what the chain produced.
    const ours: Record<string, ArrayLike<number>> = {
      old_logprobs: ch.logprobs.data,
      values: ch.adv.values.data,
      logits: ch.newLogits.data,
      vpreds: flat(c.inputs.vpreds),
      logprobs: ch.newLogprobs.data,
      mask: flat(c.inputs.mask),
      advantages: ch.adv.advantages.data,
      returns: ch.adv.returns.data,
    };
    t.deepEqual(Object.keys(g.inputs).sort(), Object.keys(ours).sort());
    for (const [key, value] of Object.entries(g.inputs)) assertClose(t, ours[key], value, F64, `loss.inputs.${key}`);

    const out = ch.loss;
    t.false(out.skipped);
    assertClose(t, [out.pgLoss], [g.pg_loss], F64, 'pg_loss');
    assertClose(t, [out.vfLossScaled], [g.vf_loss_times_vf_coef], F64, 'vf_loss_times_vf_coef');
    assertClose(t, [out.loss], [g.stats['loss/total'] as number], F64, 'loss');
    const statKeys = Object.keys(out.stats).sort();
    t.deepEqual(Object.keys(g.stats).sort(), statKeys);
    for (const key of statKeys) {
      const v = out.stats[key as keyof PpoLossStats];
      const actual = typeof v === 'number' ? [v] : (v as Float64BT).data;
      const tol = key.endsWith('clipfrac') ? F32 : F64;
      assertClose(t, actual, flat(g.stats[key]), tol, `stats.${key}`);
    }
    // clipfrac is float32 in TRL: ours is the exact float32 value.
    t.is(out.stats['policy/clipfrac'], g.stats['policy/clipfrac'] as number);
    t.is(out.stats['val/clipfrac'], g.stats['val/clipfrac'] as number);
  });

  test(`${c.name}: record_step_stats (every scalar and array) and the KL controller update`, (t) => {
    const ch = chain(c);
    const g = c.record_step_stats;
    const B = ch.mask.B;
    const out = stepStats({
      klCoef: c.config.init_kl_coef,
      kls: ch.rewards.kls,
      mask: ch.mask,
      logprobs: ch.logprobs,
      refLogprobs: ch.refLogprobs,
      nonScoreReward: ch.rewards.nonScoreRewards,
      scores: c.inputs.scores,
      queryLengths: new Array(B).fill(3),
      responseLengths: btToRows(ch.mask).map((row) => row.reduce((a, b) => a + b, 0)),
      trainStats: [ch.loss.stats],
    });
    t.deepEqual(Object.keys(out.scalars).sort(), Object.keys(g.scalars).sort());
    t.deepEqual(Object.keys(out.arrays).sort(), Object.keys(g.arrays).sort());
    for (const [key, expected] of Object.entries(g.scalars)) {
      const tol = key.startsWith('tokens/') || key.endsWith('clipfrac') ? F32 : F64;
      assertClose(t, [out.scalars[key as keyof typeof out.scalars]], [expected], tol, `scalars.${key}`);
    }
    for (const [key, expected] of Object.entries(g.arrays)) {
      const v = out.arrays[key as keyof typeof out.arrays];
      const actual = v instanceof Float64Array ? v : v.data;
      assertClose(t, actual, expected, key.startsWith('tokens/') ? F32 : F64, `arrays.${key}`);
    }
    const ctl = createKLController({
      adapKlCtrl: c.config.adap_kl_ctrl,
      initKlCoef: c.config.init_kl_coef,
      target: c.config.target,
      horizon: c.config.horizon,
    });
    assertClose(t, [ctl.value], [g.kl_ctl_value_before], F64, 'kl_ctl_value_before');
    t.is(g.kl_ctl_update_n_steps, c.config.batch_size);
    ctl.update(out.scalars['objective/kl'], g.kl_ctl_update_n_steps);
    assertClose(t, [ctl.value], [g.kl_ctl_value_after], F64, 'kl_ctl_value_after');
  });
}

test('ratio_threshold probe: the loss and the loss stats are zeroed when masked_mean(ratio) > threshold', (t) => {
  const probed = golden.cases.filter((c) => c.loss.ratio_threshold_probe !== undefined);
  t.is(probed.length, 1);
  for (const c of probed) {
    const p = c.loss.ratio_threshold_probe!;
    t.deepEqual(Object.keys(p).sort(), [
      'pg_loss',
      'ratio_threshold',
      'stats_loss_policy',
      'stats_loss_total',
      'stats_loss_value',
      'vf_loss_times_vf_coef',
    ]);
    const ch = chain(c);
    const out = ppoLoss(
      {
        oldLogprobs: ch.logprobs,
        values: ch.adv.values,
        logits: ch.newLogits,
        vpreds: toBT(c.inputs.vpreds),
        logprobs: ch.newLogprobs,
        mask: ch.mask,
        advantages: ch.adv.advantages,
        returns: ch.adv.returns,
      },
      lossConfig(c, p.ratio_threshold),
    );
    t.true(out.skipped);
    t.true(out.avgRatio > p.ratio_threshold);
    t.is(out.pgLoss, p.pg_loss);
    t.is(out.vfLossScaled, p.vf_loss_times_vf_coef);
    t.is(out.stats['loss/total'], p.stats_loss_total);
    t.is(out.stats['loss/policy'], p.stats_loss_policy);
    t.is(out.stats['loss/value'], p.stats_loss_value);
    // The other statistics are still reported.
    assertClose(t, [out.stats['policy/approxkl']], [c.loss.stats['policy/approxkl'] as number], F64, 'approxkl unchanged');
  }
});

test('maskedVar refuses an all-zero mask with a clear message; n == 1 gives NaN like TRL', (t) => {
  const x = bt([[1, 2, 3]]);
  const err = t.throws(() => maskedVar(x, bt([[0, 0, 0]])));
  t.regex(err!.message, /mask sums to 0/);
  t.throws(() => maskedVar(x, bt([[0, 0, 0]]), false), { message: /mask sums to 0/ });
  t.throws(() => maskedWhiten(x, bt([[0, 0, 0]])), { message: /mask sums to 0/ });
  t.true(Number.isNaN(maskedVar(x, bt([[0, 1, 0]]))));
  t.is(maskedVar(x, bt([[0, 1, 0]]), false), 0);
  t.true(Number.isNaN(maskedMean(x, bt([[0, 0, 0]]))));
});

test('left-padded masks: score on the last response token, recursion and whitening over masked positions', (t) => {
  // Row 0 is left-padded (mask starts late), row 1 ends early; β = 0.5, k1 KL.
  const mask = bt([
    [0, 0, 1, 1],
    [1, 1, 0, 0],
  ]);
  const lp = bt([
    [-1, -2, -0.5, -0.25],
    [-0.3, -0.6, -0.9, -1.2],
  ]);
  const ref = bt([
    [-1.5, -1, -1, -0.5],
    [-0.1, -0.4, -0.7, -1],
  ]);
  const r = computeRewards({ scores: [2, -1], logprobs: lp, refLogprobs: ref, mask, klCoef: 0.5, klPenalty: 'kl' });
  // kl = lp − ref everywhere (masked positions too).
  assertClose(t, r.kls.data, [0.5, -1, 0.5, 0.25, -0.2, -0.2, -0.2, -0.2], F64, 'kls');
  assertClose(t, r.nonScoreRewards.data, [-0.25, 0.5, -0.25, -0.125, 0.1, 0.1, 0.1, 0.1], F64, 'non-score');
  // The score lands on index 3 of row 0 and index 1 of row 1 (the last mask==1 positions).
  assertClose(t, r.rewards.data, [-0.25, 0.5, -0.25, 1.875, 0.1, -0.9, 0.1, 0.1], F64, 'rewards');

  const values = bt([
    [9, 9, 0.5, 0.25],
    [0.2, 0.4, 9, 9],
  ]);
  const a = computeAdvantages({ values, rewards: r.rewards, mask, gamma: 1, lam: 0.5, whitenRewards: false });
  // Masked values/rewards are zeroed; the bootstrap after the last response token is 0.
  assertClose(t, a.values.data, [0, 0, 0.5, 0.25, 0.2, 0.4, 0, 0], F64, 'values·mask');
  // Row 0 by hand: t=3: δ=1.875−0.25=1.625; t=2: δ=−0.25+0.25−0.5=−0.5, A=−0.5+0.5·1.625=0.3125;
  // t=1: δ=0+0.5−0=0.5, A=0.5+0.5·0.3125=0.65625; t=0: δ=0, A=0.328125.
  // Row 1: t=3,2: 0; t=1: δ=−0.9−0.4=−1.3; t=0: δ=0.1+0.4−0.2=0.3, A=0.3−0.65=−0.35.
  const rawAdv = [0.328125, 0.65625, 0.3125, 1.625, -0.35, -1.3, 0, 0];
  assertClose(
    t,
    a.returns.data,
    rawAdv.map((x, i) => x + a.values.data[i]),
    F64,
    'returns from un-whitened advantages',
  );
  // Whitening statistics use only masked-in positions, but every position is whitened.
  const inMask = [0.3125, 1.625, -0.35, -1.3];
  const mu = inMask.reduce((s, x) => s + x, 0) / 4;
  const v = inMask.reduce((s, x) => s + (x - mu) ** 2, 0) / 3;
  assertClose(
    t,
    a.advantages.data,
    rawAdv.map((x) => (x - mu) / Math.sqrt(v + 1e-8)),
    F64,
    'whitened advantages',
  );
});

test('computeRewards fails on a row with no response token, naming the row', (t) => {
  const lp = bt([
    [-1, -1],
    [-1, -1],
  ]);
  t.throws(
    () =>
      computeRewards({
        scores: [1, 1],
        logprobs: lp,
        refLogprobs: lp,
        mask: bt([
          [1, 1],
          [0, 0],
        ]),
        klCoef: 0.1,
        klPenalty: 'kl',
      }),
    { message: /mask row 1 has no non-zero entry/ },
  );
});

test('shape and argument errors name the field and the allowed values', (t) => {
  const a = bt([[1, 2]]);
  t.throws(() => maskedMean(a, bt([[1, 1, 1]])), { message: /mask has shape \[1, 3\].*values is \[1, 2\]/ });
  t.throws(() => klPenalty('nope' as 'kl', a, a), { message: /kind must be one of kl, abs, mse, full; got nope/ });
  t.throws(() => klPenalty('full', a as never, a as never), { message: /full log-softmax \[B, T, V\]/ });
  t.throws(() => logprobsFromLogits({ data: new Float64Array(4), B: 1, T: 2, V: 2 }, [0, 2]), { message: /labels\[1\] = 2.*\[0, 2\)/ });
  t.throws(() => btFrom([1, 2, 3], 2, 2), { message: /3 elements.*needs 4/ });
  t.throws(() => computeRewards({ scores: [1, 2], logprobs: a, refLogprobs: a, mask: bt([[1, 1]]), klCoef: 0.1, klPenalty: 'kl' }), {
    message: /scores has 2 entries, expected B = 1/,
  });
});

test('stepStats stacks minibatches like TRL: scalar means, arrays concatenated with −1 padding and NaN advantages → −1', (t) => {
  const c = golden.cases[0];
  const ch = chain(c);
  const s1 = ch.loss.stats;
  // A second, shorter minibatch (one row) with a NaN advantage.
  const T = ch.mask.T;
  const nanAdv = btFrom(
    Float64Array.from(s1['policy/advantages'].data.subarray(0, T), (x, i) => (i === 0 ? NaN : x)),
    1,
    T,
  );
  const shortRatio = btFrom(s1['policy/ratio'].data.slice(0, T), 1, T);
  const s2: PpoLossStats = { ...s1, 'loss/policy': 1, 'policy/clipfrac': 0.5, 'policy/advantages': nanAdv, 'policy/ratio': shortRatio };
  const input = {
    klCoef: 0.2,
    kls: ch.rewards.kls,
    mask: ch.mask,
    logprobs: ch.logprobs,
    refLogprobs: ch.refLogprobs,
    nonScoreReward: ch.rewards.nonScoreRewards,
    scores: c.inputs.scores,
    queryLengths: [3, 4],
    responseLengths: [5, 3],
  };
  const out = stepStats({ ...input, trainStats: [s1, s2] });
  t.is(out.scalars['ppo/loss/policy'], (s1['loss/policy'] + 1) / 2);
  t.is(out.scalars['ppo/policy/clipfrac'], Math.fround((s1['policy/clipfrac'] + 0.5) / 2));
  const width = 2 * T;
  const adv = out.arrays['ppo/policy/advantages'];
  t.deepEqual(Array.from(adv), [
    ...s1['policy/advantages'].data,
    -1, // NaN → WANDB_PADDING
    ...nanAdv.data.subarray(1),
    ...new Array(width - T).fill(-1), // padding to the longest minibatch
  ]);
  t.deepEqual(Array.from(out.arrays['ppo/policy/ratio']), [
    ...s1['policy/ratio'].data,
    ...shortRatio.data,
    ...new Array(width - T).fill(-1),
  ]);
  t.is(out.scalars['tokens/queries_len_mean'], 3.5);
  t.is(out.scalars['tokens/queries_len_std'], Math.fround(Math.SQRT1_2));
  t.throws(() => stepStats({ ...input, trainStats: [] }), { message: /at least one minibatch/ });

  const env = envRewardStats([1, 2, 6]);
  t.is(env['env/reward_mean'], 3);
  t.is(env['env/reward_std'], Math.sqrt(7));
  t.deepEqual(Array.from(env['env/reward_dist']), [1, 2, 6]);
});
