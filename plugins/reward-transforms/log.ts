import { z } from 'zod';
import { definePlugin } from '../../core/index.js';
import { checkLogits } from './raw-logit.js';
import { logSumExp } from './softmax.js';

/** ln(1 + eˣ) without overflow (x ≫ 0) or loss to 0 (x ≪ 0). */
const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * `"transform": { "type": "log", "minToxicProbability": 1e-8 }` — the reward is
 * **−ln p_toxic**, the negated log of the toxicity probability (`toxicProbability`: 1 − P(neutral),
 * i.e. the mass of every non-neutral class), floored at `minToxicProbability`:
 *
 *     reward = min(−ln p_toxic, −ln minToxicProbability) ∈ [0, −ln minToxicProbability]
 *
 * Why this sign: the study names the reward "log(toxicity)" and the transform contract is
 * "higher = less toxic", so we keep the quantity the study names (ln of the toxicity
 * probability) and only flip its sign. The alternative ln(1 − p_toxic) is the log of the
 * *neutral* probability — just the `softmax` transform through a log, and flat (≈ 0) across all
 * clean texts. −ln p_toxic instead behaves like the study's raw logit where it matters: for two
 * classes it is exactly softplus(l_neutral − l_toxic), ≈ the logit margin for clean texts and
 * ≈ 0 for toxic ones, so it is a smooth, non-negative version of the study's reward.
 *
 * Numerics: computed in log space as softplus(l_n − logsumexp(l_{j≠n})), which is finite for
 * any finite logits (no ln 0, no 1 − 1 cancellation); the floor caps the reward (18.42 with the
 * default 1e-8) so a classifier that is extremely sure a text is clean (logits like ±1e4) cannot
 * produce an outsized or infinite reward. Needs ≥ 2 classes.
 */
export default definePlugin({
  kind: 'reward-transform',
  name: 'log',
  description: '−ln(toxicity probability), floored at minToxicProbability (higher = less toxic; stable log-space)',
  options: z.object({
    minToxicProbability: z
      .number()
      .gt(0)
      .lt(1)
      .default(1e-8)
      .describe('floor on the toxicity probability inside the log; caps the reward at −ln(floor)'),
  }),
  create: (o) => {
    const cap = -Math.log(o.minToxicProbability);
    return {
      name: 'log',
      transform(logits: number[][], neutralIndex: number): number[] {
        checkLogits(logits, neutralIndex, 'log', 2);
        return logits.map((row) => {
          const others = row.filter((_, j) => j !== neutralIndex);
          const negLogToxic = softplus(row[neutralIndex]! - logSumExp(others)); // −ln p_toxic
          return Math.min(negLogToxic, cap);
        });
      },
    };
  },
});
