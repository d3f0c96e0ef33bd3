import test from 'ava';
import { PpoStepper } from '../../core/ppo/step.js';
import { ParallelCompute } from '../../core/parallel/parallel-compute.js';
import { Rng } from '../../core/util/rng.js';
import { buildMain, fixedBatch, maxWeightDiff, tinySetup, worstRelative } from './setup.js';

/** Statistics that must agree between 1 and N ranks (timings, memory and histograms excluded). */
const STAT_KEYS = [
  'objective/kl',
  'objective/entropy',
  'objective/non_score_reward',
  'ppo/loss/policy',
  'ppo/loss/value',
  'ppo/loss/total',
  'ppo/policy/entropy',
  'ppo/policy/approxkl',
  'ppo/policy/policykl',
  'ppo/policy/clipfrac',
  'ppo/policy/advantages_mean',
  'ppo/returns/mean',
  'ppo/returns/var',
  'ppo/val/vpred',
  'ppo/val/error',
  'ppo/val/clipfrac',
  'ppo/val/mean',
  'ppo/val/var',
  'ppo/val/var_explained',
  'ppo/mean_non_score_reward',
  'ppo/mean_scores',
  'ppo/std_scores',
];

for (const { name, ranks, over, skipped = 0 } of [
  { name: 'lean head, 2 ranks, 1 row each', ranks: 2, over: {} },
  {
    name: "ratio_threshold skips every mini-batch on the whole mini-batch's ratio, 2 ranks",
    ranks: 2,
    over: { ppo: { batchSize: 4, miniBatchSize: 2, ppoEpochs: 2, ratioThreshold: 0.5 } },
    skipped: 4,
  },
  {
    name: 'full-KL path, 3 ranks over mini-batches of 4 (uneven shares)',
    ranks: 3,
    over: { ppo: { batchSize: 8, miniBatchSize: 4, ppoEpochs: 2, klPenalty: 'full' } },
  },
  {
    name: 'gradient accumulation and clipping, 2 ranks',
    ranks: 2,
    over: { ppo: { batchSize: 8, miniBatchSize: 2, gradientAccumulationSteps: 2, ppoEpochs: 2, maxGradNorm: 0.5 } },
  },
]) {
  test(`${name}: losses, statistics and weights equal the single-thread step`, async (t) => {
    const { dir, prepared } = await tinySetup(over);
    const cfg = prepared.config;
    const one = await buildMain(prepared, dir);
    const many = await buildMain(prepared, dir);
    const fresh = await buildMain(prepared, dir);
    const compute = await ParallelCompute.start({
      config: cfg,
      configDir: dir,
      plugins: prepared.registry,
      policy: many.policy,
      workers: ranks,
    });
    try {
      t.is(compute.ranks, ranks);
      const a = new PpoStepper(one.policy, one.optimiser, one.memory, cfg.ppo, new Rng(5));
      const b = new PpoStepper(many.policy, many.optimiser, many.memory, cfg.ppo, new Rng(5), compute);
      const { queries, responses, scores } = fixedBatch(cfg.ppo.batchSize);
      for (let step = 1; step <= 2; step++) {
        const ra = await a.step(queries, responses, scores);
        const rb = await b.step(queries, responses, scores);
        const worst = worstRelative(rb.scalars, ra.scalars, STAT_KEYS);
        t.true(worst.err <= 1e-5, `step ${step}: ${worst.key} differs by ${worst.err} (relative) between 1 and ${ranks} ranks`);
        t.true(
          Number.isFinite(ra.scalars['ppo/loss/total']!) && (ra.scalars['ppo/loss/total'] !== 0) === (skipped === 0),
          'a real loss unless skipped',
        );
        t.is(ra.scalars['ppo/skipped_minibatches'], skipped);
        t.is(rb.scalars['ppo/skipped_minibatches'], skipped);
        const ratioA = ra.arrays['ppo/policy/ratio']!;
        const ratioB = rb.arrays['ppo/policy/ratio']!;
        t.is(ratioB.length, ratioA.length);
        let ratioErr = 0;
        ratioA.forEach((x, i) => {
          ratioErr = Math.max(ratioErr, Math.abs(x - ratioB[i]!) / Math.abs(x));
        });
        t.true(ratioErr <= 1e-5, `step ${step}: ratio differs by ${ratioErr}`);
        const dw = maxWeightDiff(many.policy, one.policy);
        t.log(
          `step ${step}: worst statistic ${worst.key} ${worst.err.toExponential(2)} relative, ratio ${ratioErr.toExponential(2)}, weights ${dw.toExponential(2)} absolute`,
        );
        t.true(dw <= 1e-5, `step ${step}: weights differ by ${dw}`);
        if (skipped) t.is(maxWeightDiff(many.policy, fresh.policy), 0, 'zero gradients from a fresh Adam leave the weights');
        else t.true(maxWeightDiff(one.policy, fresh.policy) > 100 * dw, 'the steps moved the weights far more than the ranks disagree');
      }
      t.is(compute.failure, null);
    } finally {
      await compute.close();
    }
    t.is(compute.liveThreads, 0);
  });
}
