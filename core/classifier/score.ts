import { toxicProbability, type RewardModel } from '../interfaces/reward.js';
import { InputError } from '../errors.js';

/** Thrown when the abort signal fires between batches of {@link scoreTexts}. */
export class ScoringInterrupted extends Error {
  constructor() {
    super('scoring interrupted');
  }
}

/**
 * P(toxic) of each text by a reward model (softmax of its logits, 1 − P(its neutral class)), in batches, yielding to
 * the event loop between them so that Ctrl-C is seen.
 */
export async function scoreTexts(
  model: RewardModel,
  texts: readonly string[],
  opts: { batchSize?: number; onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<number[]> {
  const batchSize = opts.batchSize ?? 64;
  const out: number[] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    await new Promise((r) => setImmediate(r));
    if (opts.signal?.aborted) throw new ScoringInterrupted();
    const batch = texts.slice(start, start + batchSize);
    const logits = await model.classify(batch);
    if (logits.length !== batch.length) {
      throw new InputError(`${model.name}: classify returned ${logits.length} rows for ${batch.length} texts`);
    }
    for (const l of logits) out.push(toxicProbability(l, model.neutralIndex));
    opts.onProgress?.(out.length, texts.length);
  }
  return out;
}
