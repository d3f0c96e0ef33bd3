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
  transform: RewardTransform,
  hooks: readonly Hook[],
  logits: number[][],
  context: RewardContext,
): Promise<BatchRewards> {
  const B = logits.length;
  const transformScores = transform.transform(logits, context.rewardModel.neutralIndex, context); // [B]
  if (!Array.isArray(transformScores) || transformScores.length !== B) {
    throw new Error(
      `reward.transform (${transform.name}) transform: returned ${describe(transformScores)} for a batch of ${B}; ` +
        'expected one reward per sample',
    );
  }
  let scores = transformScores;
  let shaped = false;
  for (const h of hooks) {
    if (!h.onReward) continue;
    const out = await h.onReward(scores, context);
    if (out === undefined) continue;
    if (!Array.isArray(out) || out.length !== B) {
      throw new Error(
        `hook "${h.name}" onReward: returned ${describe(out)} for a batch of ${B}; expected ${B} numbers (or nothing to keep the rewards)`,
      );
    }
    const bad = out.findIndex((r) => typeof r !== 'number' || !Number.isFinite(r));
    if (bad >= 0) {
      throw new Error(
        `hook "${h.name}" onReward: reward ${bad} is ${String(out[bad])} (response ${JSON.stringify(context.responses[bad])}); rewards must be finite numbers`,
      );
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
 * alone, so PPO trains on nothing the reward says). The first such batch gives one warning; `limit` such batches in a
 * row fail the run (`null`: never, warn only) — but only while the reward has never varied in this run: a reward that
 * is constant from the start is broken (e.g. the classifier's score is on another logit than the transform reads),
 * whereas a policy that has learnt to satisfy a coarse reward (every response clean under a word list) also produces
 * equal rewards, late and now and then, and must not be stopped for it. Batches of one sample are never counted.
 */
export class ZeroVarianceGuard {
  private run = 0;
  private warned = false;

  /** `varied`: whether the reward already varied in this run (a resumed run: before its checkpoint). */
  constructor(
    private readonly limit: number | null,
    private readonly who: { model: string; labels: readonly string[]; neutralIndex: number; transform: string },
    private everVaried = false,
  ) {}

  /** Whether some batch's rewards have varied in this run (checkpointed, so a resume keeps it). */
  get varied(): boolean {
    return this.everVaried;
  }

  /** Whether every reward of the batch is the same (to 1e-12 of its magnitude). */
  static constant(rewards: readonly number[]): boolean {
    if (rewards.length < 2) return false;
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rewards) {
      lo = Math.min(lo, r);
      hi = Math.max(hi, r);
    }
    return hi - lo <= 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo));
  }

  /** Checks one step's rewards: a warning to show (once per run), and a failure message when the limit is reached. */
  check(rewards: readonly number[], step: number): { warning?: string; failure?: string } {
    if (!ZeroVarianceGuard.constant(rewards)) {
      this.run = 0;
      this.everVaried = true;
      return {};
    }
    this.run++;
    const { model, labels, neutralIndex, transform } = this.who;
    const out: { warning?: string; failure?: string } = {};
    if (!this.warned) {
      this.warned = true;
      const what = `every reward of step ${step} is ${rewards[0]} (zero variance across the batch of ${rewards.length}): PPO learns from the KL penalty alone`;
      out.warning = this.varied
        ? `${what} at this step. The reward varied before, so the policy may have learnt all that reward.model "${model}" ` +
          `under reward.transform "${transform}" can tell apart (e.g. every response clean for a word list)`
        : `${what}. Likely cause: reward.model "${model}" (labels ${JSON.stringify(labels)}, neutral class ${neutralIndex}) ` +
          `scores every response the same under reward.transform "${transform}" — e.g. the classifier puts its score on another ` +
          'logit than the one the transform reads (check the neutral label), or its output does not depend on the text. ' +
          (this.limit === null
            ? 'reward.zeroVarianceSteps is null: the run goes on.'
            : `The run stops if the first ${this.limit} steps all are so (reward.zeroVarianceSteps; null allows it).`);
    }
    if (this.limit !== null && !this.varied && this.run >= this.limit) {
      out.failure =
        `the rewards had zero variance for the first ${this.run} steps (every reward ${rewards[0]}; reward.model "${model}", ` +
        `reward.transform "${transform}"): the policy was training on the KL penalty alone. Fix the reward (e.g. the neutral label the ` +
        'transform reads), or set reward.zeroVarianceSteps to null to allow it';
    }
    return out;
  }
}
