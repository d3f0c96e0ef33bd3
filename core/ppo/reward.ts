import type { RewardContext, RewardTransform } from '../interfaces/reward.js';
import type { Hook } from '../interfaces/hook.js';

/** A batch's rewards: what PPO is given (`scores`) and what the transform returned before any `onReward` hook. */
export interface BatchRewards {
  /** `[B]`: the transform's output reshaped by the hooks, in config order (what PPO trains on). */
  scores: number[];
  /** `[B]`: the transform's output. */
  transformScores: number[];
  /** Whether a hook returned rewards (false: `scores` is `transformScores`, the very same array). */
  shaped: boolean;
}

/**
 * The reward of one batch: the transform on the classifier's logits (with the batch's {@link RewardContext}), then
 * every hook's `onReward` in order. Runs on the main thread for every `workers` setting (the workers only return
 * logits), so the result is exactly what PPO receives. A hook that returns the wrong number of rewards or a non-finite
 * one is an error naming it, the sample and the value.
 */
export async function batchRewards(
  transform: RewardTransform, hooks: readonly Hook[], logits: number[][], context: RewardContext,
): Promise<BatchRewards> {
  const B = logits.length;
  const transformScores = transform.transform(logits, context.rewardModel.neutralIndex, context); // [B]
  if (!Array.isArray(transformScores) || transformScores.length !== B) {
    throw new Error(`reward.transform (${transform.name}) transform: returned ${describe(transformScores)} for a batch of ${B}; ` +
      'expected one reward per sample');
  }
  let scores = transformScores;
  let shaped = false;
  for (const h of hooks) {
    if (!h.onReward) continue;
    const out = await h.onReward(scores, context);
    if (out === undefined) continue;
    if (!Array.isArray(out) || out.length !== B) {
      throw new Error(`hook "${h.name}" onReward: returned ${describe(out)} for a batch of ${B}; expected ${B} numbers (or nothing to keep the rewards)`);
    }
    const bad = out.findIndex((r) => typeof r !== 'number' || !Number.isFinite(r));
    if (bad >= 0) {
      throw new Error(`hook "${h.name}" onReward: reward ${bad} is ${String(out[bad])} (response ${JSON.stringify(context.responses[bad])}); rewards must be finite numbers`);
    }
    scores = out;
    shaped = true;
  }
  return { scores, transformScores, shaped };
}

function describe(x: unknown): string {
  return Array.isArray(x) ? `${x.length} rewards` : `${x === null ? 'null' : typeof x} (not an array)`;
}

/** Consecutive zero-variance steps before a run fails when `reward.zeroVarianceSteps` is absent. */
export const DEFAULT_ZERO_VARIANCE_STEPS = 10;

/**
 * Watches for batches whose rewards are all equal (zero variance: every advantage then comes from the KL penalty
 * alone, so PPO trains on nothing the reward says). The first such batch gives one warning naming the reward model
 * and transform and the likely cause; `limit` such batches in a row fail the run (`null`: never, warn only).
 * Batches of one sample are never counted.
 */
export class ZeroVarianceGuard {
  private run = 0;
  private warned = false;

  constructor(
    private readonly limit: number | null,
    private readonly who: { model: string; labels: readonly string[]; neutralIndex: number; transform: string },
  ) {}

  /** Whether every reward of the batch is the same (to 1e-12 of its magnitude). */
  static constant(rewards: readonly number[]): boolean {
    if (rewards.length < 2) return false;
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rewards) { lo = Math.min(lo, r); hi = Math.max(hi, r); }
    return hi - lo <= 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo));
  }

  /** Checks one step's rewards: a warning to show (once), and a failure message when the limit is reached. */
  check(rewards: readonly number[], step: number): { warning?: string; failure?: string } {
    if (!ZeroVarianceGuard.constant(rewards)) {
      this.run = 0;
      return {};
    }
    this.run++;
    const { model, labels, neutralIndex, transform } = this.who;
    const out: { warning?: string; failure?: string } = {};
    if (!this.warned) {
      this.warned = true;
      out.warning = `every reward of step ${step} is ${rewards[0]} (zero variance across the batch of ${rewards.length}): PPO learns ` +
        `from the KL penalty alone. Likely cause: reward.model "${model}" (labels ${JSON.stringify(labels)}, neutral class ${neutralIndex}) ` +
        `scores every response the same under reward.transform "${transform}" — e.g. the classifier puts its score on another ` +
        'logit than the one the transform reads (check the neutral label), or its output does not depend on the text. ' +
        (this.limit === null ? 'reward.zeroVarianceSteps is null: the run goes on.'
          : `The run stops after ${this.limit} such steps in a row (reward.zeroVarianceSteps; null allows them).`);
    }
    if (this.limit !== null && this.run >= this.limit) {
      out.failure = `the rewards had zero variance for ${this.run} steps in a row (every reward ${rewards[0]}; reward.model "${model}", ` +
        `reward.transform "${transform}"): the policy was training on the KL penalty alone. Fix the reward (e.g. the neutral label the ` +
        'transform reads), or set reward.zeroVarianceSteps to null to allow it';
    }
    return out;
  }
}
