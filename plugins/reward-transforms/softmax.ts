import { z } from 'zod';
import { definePlugin } from '../../core/index.js';
import { checkLogits } from './raw-logit.js';

/** ln Σ exp(xᵢ), shifted by the maximum so it neither overflows nor underflows to −∞ for finite input. */
export function logSumExp(xs: readonly number[]): number {
  const max = Math.max(...xs);
  let s = 0;
  for (const x of xs) s += Math.exp(x - max);
  return max + Math.log(s);
}

/**
 * `"transform": { "type": "softmax" }` — the reward is the classifier's probability of the
 * neutral class, `exp(l_n − logsumexp(l))` (log-softmax, so ±1e4 logits give exactly 0 or 1
 * rather than NaN). In [0, 1]; equal to `1 − toxicProbability` without its cancellation.
 */
export default definePlugin({
  kind: 'reward-transform',
  name: 'softmax',
  description: 'the neutral-class probability, in [0, 1] (stable log-softmax)',
  options: z.object({}),
  create: () => ({
    name: 'softmax',
    transform(logits: number[][], neutralIndex: number): number[] {
      checkLogits(logits, neutralIndex, 'softmax', 2);
      return logits.map((row) => Math.exp(row[neutralIndex]! - logSumExp(row)));
    },
  }),
});
