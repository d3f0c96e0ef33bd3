/**
 * The statistics TRL v0.11.4's `PPOTrainer` logs per step (`record_step_stats`, the stacking done in
 * `step()`, and the `env/*` of `log_stats`), in float64 from the step's arrays (`arrays.ts`) and the
 * minibatch loss statistics of `math.ts#ppoLoss`.
 */
import { mean } from '../util/mean.js';
import { maskedMean, sameShape, type Float64BT } from './arrays.js';
import type { PpoLossStats } from './math.js';

// ---------------------------------------------------------------------------------------------
// PPOTrainer.record_step_stats (+ the stacking done in step())
// ---------------------------------------------------------------------------------------------

/** TRL's WANDB_PADDING: the pad value of stacked per-minibatch arrays (and what NaN advantages become). */
const WANDB_PADDING = -1;

/** Inputs of {@link stepStats} (names follow TRL's `record_step_stats(**data)`). */
interface StepStatsInput {
  /** β used for this step's rewards (the controller value before its update). */
  readonly klCoef: number;
  /** Per-position penalty from {@link computeRewards} `[B, T]`. */
  readonly kls: Float64BT;
  readonly mask: Float64BT;
  /** Rollout policy log-probs `[B, T]`. */
  readonly logprobs: Float64BT;
  readonly refLogprobs: Float64BT;
  readonly nonScoreReward: Float64BT;
  /** Scores after scaling/clipping `[B]`. */
  readonly scores: ArrayLike<number>;
  /** Token count of each query `[B]` (TRL: `len(query)`). */
  readonly queryLengths: ArrayLike<number>;
  /** Token count of each response `[B]` (TRL: `len(response)`). */
  readonly responseLengths: ArrayLike<number>;
  /** The loss statistics of every minibatch of every PPO epoch, in order. */
  readonly trainStats: readonly PpoLossStats[];
}

/** Scalar keys produced by {@link stepStats}. */
export type StepScalarKey =
  | 'objective/kl'
  | 'objective/kl_coef'
  | 'objective/entropy'
  | 'ppo/mean_non_score_reward'
  | 'ppo/mean_scores'
  | 'ppo/std_scores'
  | 'tokens/queries_len_mean'
  | 'tokens/queries_len_std'
  | 'tokens/responses_len_mean'
  | 'tokens/responses_len_std'
  | 'ppo/loss/policy'
  | 'ppo/loss/value'
  | 'ppo/loss/total'
  | 'ppo/policy/entropy'
  | 'ppo/policy/approxkl'
  | 'ppo/policy/policykl'
  | 'ppo/policy/clipfrac'
  | 'ppo/policy/advantages_mean'
  | 'ppo/returns/mean'
  | 'ppo/returns/var'
  | 'ppo/val/vpred'
  | 'ppo/val/error'
  | 'ppo/val/clipfrac'
  | 'ppo/val/mean'
  | 'ppo/val/var'
  | 'ppo/val/var_explained';

/** Output of {@link stepStats}: TRL's stats dict split into scalars and arrays. */
export interface StepStats {
  readonly scalars: Record<StepScalarKey, number>;
  readonly arrays: {
    /** Σ_t kls·mask per sample `[B]`. */
    readonly 'objective/kl_dist': Float64Array;
    readonly 'objective/logprobs': Float64BT;
    readonly 'objective/ref_logprobs': Float64BT;
    /** float32 query lengths `[B]`. */
    readonly 'tokens/queries_dist': Float64Array;
    /** float32 response lengths `[B]`. */
    readonly 'tokens/responses_dist': Float64Array;
    /** Every minibatch's advantages flattened and concatenated (−1 padding, NaN → −1). */
    readonly 'ppo/policy/advantages': Float64Array;
    /** Every minibatch's ratios flattened and concatenated (−1 padding). */
    readonly 'ppo/policy/ratio': Float64Array;
  };
}

/** torch.std: unbiased (n − 1); NaN for a single element. */
function stdUnbiased(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let ss = 0;
  for (let i = 0; i < xs.length; i++) ss += (xs[i] - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

/** The per-minibatch scalar statistics averaged by TRL's `torch.mean(v, axis=0)`. */
const AVERAGED_KEYS = [
  'loss/policy',
  'loss/value',
  'loss/total',
  'policy/entropy',
  'policy/approxkl',
  'policy/policykl',
  'policy/clipfrac',
  'policy/advantages_mean',
  'returns/mean',
  'returns/var',
  'val/vpred',
  'val/error',
  'val/clipfrac',
  'val/mean',
  'val/var',
] as const;

/** Keys that are float32 tensors in TRL (their mean over minibatches is float32 too). */
const FLOAT32_KEYS: ReadonlySet<string> = new Set(['policy/clipfrac', 'val/clipfrac']);

/** Concatenates flattened per-minibatch arrays, padding each to the longest with −1 (TRL's stack_dicts). */
function stackFlat(arrays: readonly Float64BT[], nanTo: number | null): Float64Array {
  const width = Math.max(0, ...arrays.map((a) => a.data.length));
  const out = new Float64Array(arrays.length * width).fill(WANDB_PADDING); // [M * width]
  arrays.forEach((a, k) => out.set(a.data, k * width));
  if (nanTo !== null) for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i])) out[i] = nanTo;
  return out;
}

/**
 * TRL's `PPOTrainer.record_step_stats`, including the stacking that `step()` does before it
 * (`stack_dicts` over the minibatches, advantages/ratios flattened instead of averaged, NaN
 * advantages → −1). `objective/entropy` is TRL's sampled-token estimate mean_b Σ_t −logprob·mask, not
 * the policy entropy. `tokens/*` are float32 in TRL (rounded here too). The `ppo/*` scalars are means
 * over all minibatches × epochs. `ppo/learning_rate`, `time/*` and `env/*` are added by the trainer.
 */
export function stepStats(input: StepStatsInput): StepStats {
  const { mask, kls, logprobs } = input;
  sameShape(
    'stepStats',
    ['mask', 'kls', 'logprobs', 'refLogprobs', 'nonScoreReward'],
    [mask, kls, logprobs, input.refLogprobs, input.nonScoreReward],
  );
  const { B, T } = mask;
  if (input.scores.length !== B) throw new RangeError(`stepStats: scores has ${input.scores.length} entries, expected B = ${B}`);
  if (input.queryLengths.length !== B || input.responseLengths.length !== B) {
    throw new RangeError(
      `stepStats: queryLengths (${input.queryLengths.length}) and responseLengths (${input.responseLengths.length}) must have B = ${B} entries`,
    );
  }
  if (input.trainStats.length === 0) throw new RangeError('stepStats: trainStats must hold at least one minibatch');
  const klDist = new Float64Array(B); // [B]
  const entropyPerSample = new Float64Array(B); // [B]
  for (let b = 0; b < B; b++) {
    let kl = 0;
    let ent = 0;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      kl += kls.data[i] * mask.data[i];
      ent += -logprobs.data[i] * mask.data[i];
    }
    klDist[b] = kl;
    entropyPerSample[b] = ent;
  }
  const queriesDist = Float64Array.from(input.queryLengths, (x) => Math.fround(x)); // [B]
  const responsesDist = Float64Array.from(input.responseLengths, (x) => Math.fround(x)); // [B]

  const ppo: Record<string, number> = {};
  for (const key of AVERAGED_KEYS) {
    const m = mean(input.trainStats.map((s) => s[key]));
    ppo[`ppo/${key}`] = FLOAT32_KEYS.has(key) ? Math.fround(m) : m;
  }
  const scalars = {
    'objective/kl': mean(klDist),
    'objective/kl_coef': input.klCoef,
    'objective/entropy': mean(entropyPerSample),
    'ppo/mean_non_score_reward': maskedMean(input.nonScoreReward, mask),
    'ppo/mean_scores': mean(input.scores),
    'ppo/std_scores': stdUnbiased(input.scores),
    'tokens/queries_len_mean': Math.fround(mean(queriesDist)),
    'tokens/queries_len_std': Math.fround(stdUnbiased(queriesDist)),
    'tokens/responses_len_mean': Math.fround(mean(responsesDist)),
    'tokens/responses_len_std': Math.fround(stdUnbiased(responsesDist)),
    ...ppo,
    'ppo/val/var_explained': 1 - ppo['ppo/val/error'] / ppo['ppo/returns/var'],
  } as Record<StepScalarKey, number>;
  return {
    scalars,
    arrays: {
      'objective/kl_dist': klDist,
      'objective/logprobs': logprobs,
      'objective/ref_logprobs': input.refLogprobs,
      'tokens/queries_dist': queriesDist,
      'tokens/responses_dist': responsesDist,
      'ppo/policy/advantages': stackFlat(
        input.trainStats.map((s) => s['policy/advantages']),
        WANDB_PADDING,
      ),
      'ppo/policy/ratio': stackFlat(
        input.trainStats.map((s) => s['policy/ratio']),
        null,
      ),
    },
  };
}

/**
 * What TRL's `log_stats` adds from the RAW rewards passed to it (not the scaled scores):
 * env/reward_mean, env/reward_std (unbiased) and env/reward_dist.
 */
export function envRewardStats(rawRewards: ArrayLike<number>): {
  'env/reward_mean': number;
  'env/reward_std': number;
  'env/reward_dist': Float64Array;
} {
  return {
    'env/reward_mean': mean(rawRewards),
    'env/reward_std': stdUnbiased(rawRewards),
    'env/reward_dist': Float64Array.from(rawRewards),
  };
}
