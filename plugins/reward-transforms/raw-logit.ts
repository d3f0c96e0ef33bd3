import { z } from 'zod';
import { definePlugin } from '../../core/index.js';

/**
 * Checks a transform's input: `neutralIndex` an integer inside every row, each row at least
 * `minClasses` long, every logit finite. Errors name the transform, the row and the value.
 * Shared by the built-in reward transforms.
 */
export function checkLogits(logits: readonly (readonly number[])[], neutralIndex: number, who: string, minClasses = 1): void {
  if (!Number.isInteger(neutralIndex) || neutralIndex < 0) {
    throw new Error(`reward transform "${who}": neutralIndex must be an integer ≥ 0 (got ${neutralIndex})`);
  }
  logits.forEach((row, i) => {
    if (row.length < Math.max(minClasses, neutralIndex + 1)) {
      throw new Error(
        `reward transform "${who}": logits[${i}] has ${row.length} classes; needs ≥ ${minClasses} and more than neutralIndex ${neutralIndex}`,
      );
    }
    row.forEach((l, j) => {
      if (!Number.isFinite(l)) throw new Error(`reward transform "${who}": logits[${i}][${j}] is ${l}; logits must be finite`);
    });
  });
}

/**
 * `"transform": { "type": "raw-logit" }` — the reward is the classifier's logit of the neutral
 * (non-toxic) class, unchanged: the study's reward, as in TRL's detoxification example
 * (`logits[:, 0]` of the hate-speech classifier, "nothate" being class 0).
 */
export default definePlugin({
  kind: 'reward-transform',
  name: 'raw-logit',
  description: "the neutral-class logit, unchanged (the study's reward; TRL detox example)",
  options: z.object({}),
  create: () => ({
    name: 'raw-logit',
    transform(logits: number[][], neutralIndex: number): number[] {
      checkLogits(logits, neutralIndex, 'raw-logit');
      return logits.map((row) => row[neutralIndex]!);
    },
  }),
});
