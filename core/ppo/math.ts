/**
 * The PPO math of Hugging Face TRL v0.11.4's `PPOTrainer` (`trl/trainer/ppo_trainer.py`): the KL
 * penalty, the per-token rewards, the GAE advantages and the PPO loss with its statistics, as pure
 * float64 functions on the arrays of `arrays.ts` (layout described there). This is the reference the
 * TensorFlow.js loss (`loss.ts`) and the trainer are checked against; it is golden-tested against
 * vectors produced by TRL's own code in float64. The statistics logged per step are in `step-stats.ts`.
 *
 * Every statistic (means, variances, whitening) is taken over the whole batch passed in (all rows
 * together), never per row, exactly as TRL does.
 */
import {
  checkBTV,
  entropyFromLogits,
  maskCount,
  maskedMean,
  maskedVar,
  maskedWhiten,
  sameShape,
  type Float64BT,
  type Float64BTV,
} from './arrays.js';

/** TRL's `kl_penalty` choices: `kl` = lp − ref_lp (k1), `abs` = |k1|, `mse` = ½·k1², `full` = Σ_v π(v)(log π(v) − log π_ref(v)). */
type KlPenaltyKind = 'kl' | 'abs' | 'mse' | 'full';

/** The KL penalty kinds, for validation messages. */
const KL_PENALTY_KINDS: readonly KlPenaltyKind[] = ['kl', 'abs', 'mse', 'full'];

/** Whether a log-prob argument is a full log-softmax `[B, T, V]` (it has a V) rather than gathered `[B, T]`. */
function isBTV(x: Float64BT | Float64BTV): x is Float64BTV {
  return typeof (x as Float64BTV).V === 'number';
}

// ---------------------------------------------------------------------------------------------
// PPOTrainer._kl_penalty / compute_rewards / compute_advantages
// ---------------------------------------------------------------------------------------------

/**
 * TRL's `PPOTrainer._kl_penalty`: per-position penalty `[B, T]`.
 * For `kl`/`abs`/`mse` pass the gathered log-probs `[B, T]`; for `full` pass the full log-softmax of
 * policy and reference `[B, T, V]` (it is `F.kl_div(ref, lp, log_target=True).sum(-1)` =
 * Σ_v π(v)·(log π(v) − log π_ref(v))).
 */
export function klPenalty(kind: 'kl' | 'abs' | 'mse', logprob: Float64BT, refLogprob: Float64BT): Float64BT;
export function klPenalty(kind: 'full', logprob: Float64BTV, refLogprob: Float64BTV): Float64BT;
export function klPenalty(kind: KlPenaltyKind, logprob: Float64BT | Float64BTV, refLogprob: Float64BT | Float64BTV): Float64BT;
export function klPenalty(kind: KlPenaltyKind, logprob: Float64BT | Float64BTV, refLogprob: Float64BT | Float64BTV): Float64BT {
  if (!KL_PENALTY_KINDS.includes(kind)) {
    throw new RangeError(`klPenalty: kind must be one of ${KL_PENALTY_KINDS.join(', ')}; got ${String(kind)}`);
  }
  if (kind === 'full') {
    if (!isBTV(logprob) || !isBTV(refLogprob)) {
      throw new TypeError("klPenalty('full'): logprob and refLogprob must be full log-softmax [B, T, V] arrays");
    }
    checkBTV('klPenalty', 'logprob', logprob);
    checkBTV('klPenalty', 'refLogprob', refLogprob);
    if (logprob.B !== refLogprob.B || logprob.T !== refLogprob.T || logprob.V !== refLogprob.V) {
      throw new RangeError(
        `klPenalty('full'): logprob [${logprob.B}, ${logprob.T}, ${logprob.V}] and refLogprob ` +
          `[${refLogprob.B}, ${refLogprob.T}, ${refLogprob.V}] differ in shape`,
      );
    }
    const { B, T, V } = logprob;
    const out = new Float64Array(B * T); // [B, T]
    for (let r = 0; r < B * T; r++) {
      let s = 0;
      for (let v = 0; v < V; v++) {
        const lp = logprob.data[r * V + v];
        s += Math.exp(lp) * (lp - refLogprob.data[r * V + v]);
      }
      out[r] = s;
    }
    return { data: out, B, T };
  }
  if (isBTV(logprob) || isBTV(refLogprob)) {
    throw new TypeError(`klPenalty('${kind}'): logprob and refLogprob must be gathered log-probs [B, T], not [B, T, V]`);
  }
  sameShape('klPenalty', ['logprob', 'refLogprob'], [logprob, refLogprob]);
  const out = new Float64Array(logprob.data.length); // [B, T]
  for (let i = 0; i < out.length; i++) {
    const d = logprob.data[i] - refLogprob.data[i];
    out[i] = kind === 'kl' ? d : kind === 'abs' ? Math.abs(d) : 0.5 * d * d;
  }
  return { data: out, B: logprob.B, T: logprob.T };
}

/** Inputs of {@link computeRewards}. */
interface ComputeRewardsInput {
  /** One scalar score per sample `[B]` (after any scaling/clipping). */
  readonly scores: ArrayLike<number>;
  /** Policy log-probs at rollout: `[B, T]`, or the full log-softmax `[B, T, V]` for `klPenalty: 'full'`. */
  readonly logprobs: Float64BT | Float64BTV;
  /** Reference log-probs, same form as `logprobs`. */
  readonly refLogprobs: Float64BT | Float64BTV;
  /** `[B, T]`, 1 on response positions. */
  readonly mask: Float64BT;
  /** β: the KL controller's value BEFORE this step's update. */
  readonly klCoef: number;
  readonly klPenalty: KlPenaltyKind;
}

/** Output of {@link computeRewards}, each `[B, T]`. */
interface ComputeRewardsOutput {
  /** −β·kl everywhere, plus the score on each row's last mask==1 position. */
  readonly rewards: Float64BT;
  /** −β·kl at every position (masked-out ones too). */
  readonly nonScoreRewards: Float64BT;
  /** The per-position penalty of the chosen kind (what `objective/kl` and the adaptive controller see). */
  readonly kls: Float64BT;
}

/**
 * TRL's `PPOTrainer.compute_rewards`. Surprising but faithful:
 * - the KL penalty is computed at ALL positions, not only masked-in ones (masked positions keep −β·kl
 *   junk, which `computeAdvantages` zeroes by multiplying by the mask);
 * - the score is added ONLY on the last position where mask != 0 (the last response token);
 * - `kls` is the chosen penalty (abs/mse/full too), which is what feeds `objective/kl` and the controller.
 * A row whose mask is all zero has no last response token; TRL fails there (IndexError), so do we.
 */
export function computeRewards(input: ComputeRewardsInput): ComputeRewardsOutput {
  const { scores, mask, klCoef } = input;
  const kls = klPenalty(input.klPenalty, input.logprobs, input.refLogprobs); // [B, T]
  sameShape('computeRewards', ['kls', 'mask'], [kls, mask]);
  const { B, T } = kls;
  if (scores.length !== B) throw new RangeError(`computeRewards: scores has ${scores.length} entries, expected B = ${B}`);
  const nonScore = new Float64Array(B * T); // [B, T]
  for (let i = 0; i < nonScore.length; i++) nonScore[i] = -klCoef * kls.data[i];
  const rewards = Float64Array.from(nonScore); // [B, T]
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = 0; t < T; t++) if (mask.data[b * T + t] !== 0) last = t;
    if (last < 0) {
      throw new RangeError(`computeRewards: mask row ${b} has no non-zero entry, so there is no last response token to score`);
    }
    rewards[b * T + last] += scores[b];
  }
  return { rewards: { data: rewards, B, T }, nonScoreRewards: { data: nonScore, B, T }, kls };
}

/** Inputs of {@link computeAdvantages}. */
interface ComputeAdvantagesInput {
  /** Rollout values `[B, T]`. */
  readonly values: Float64BT;
  /** Per-token rewards from {@link computeRewards} `[B, T]`. */
  readonly rewards: Float64BT;
  readonly mask: Float64BT;
  readonly gamma: number;
  readonly lam: number;
  /** TRL's `whiten_rewards`: masked-whiten the (masked) rewards without removing their mean first. */
  readonly whitenRewards: boolean;
}

/** Output of {@link computeAdvantages}, each `[B, T]`. */
interface ComputeAdvantagesOutput {
  /** values·mask. */
  readonly values: Float64BT;
  /** GAE advantages, masked-whitened (shift_mean=True) over the whole batch, at ALL positions. */
  readonly advantages: Float64BT;
  /** Un-whitened advantages + values·mask. */
  readonly returns: Float64BT;
}

/**
 * TRL's `PPOTrainer.compute_advantages` (once per step on the whole batch). Faithful details:
 * values and rewards are multiplied by the mask first (so the bootstrap after the last response token
 * is 0); the GAE recursion runs over every position right to left, with no `dones`; the returns come
 * from the UN-whitened advantages; the whitening uses statistics over masked-in positions but is applied
 * to ALL positions (padded ones become (0 − mean)/std).
 */
export function computeAdvantages(input: ComputeAdvantagesInput): ComputeAdvantagesOutput {
  const { mask, gamma, lam } = input;
  sameShape('computeAdvantages', ['values', 'rewards', 'mask'], [input.values, input.rewards, mask]);
  const { B, T } = mask;
  const values = new Float64Array(B * T); // [B, T]
  let rewardsData: Float64Array = new Float64Array(B * T); // [B, T]
  for (let i = 0; i < B * T; i++) {
    values[i] = input.values.data[i] * mask.data[i];
    rewardsData[i] = input.rewards.data[i] * mask.data[i];
  }
  if (input.whitenRewards) rewardsData = maskedWhiten({ data: rewardsData, B, T }, mask, false).data; // [B, T]
  const gl = gamma * lam;
  const adv = new Float64Array(B * T); // [B, T]
  for (let b = 0; b < B; b++) {
    let lastgaelam = 0;
    for (let t = T - 1; t >= 0; t--) {
      const next = t < T - 1 ? values[b * T + t + 1] : 0;
      const delta = rewardsData[b * T + t] + gamma * next - values[b * T + t];
      lastgaelam = delta + gl * lastgaelam;
      adv[b * T + t] = lastgaelam;
    }
  }
  const returns = new Float64Array(B * T); // [B, T]
  for (let i = 0; i < B * T; i++) returns[i] = adv[i] + values[i];
  const advantages = maskedWhiten({ data: adv, B, T }, mask, true); // [B, T]
  return { values: { data: values, B, T }, advantages, returns: { data: returns, B, T } };
}

// ---------------------------------------------------------------------------------------------
// PPOTrainer.loss
// ---------------------------------------------------------------------------------------------

/** The PPO hyper-parameters the loss uses (TRL PPOConfig names in camelCase). */
export interface PpoLossConfig {
  /** Policy ratio clip ε (TRL default 0.2). */
  readonly cliprange: number;
  /** Value clip around the rollout values (TRL default 0.2). */
  readonly cliprangeValue: number;
  /** Weight of the value loss in the total (TRL default 0.1). */
  readonly vfCoef: number;
  /** Skip (zero) the minibatch loss when masked_mean(ratio) exceeds this (TRL default 10). */
  readonly ratioThreshold: number;
}

/** Inputs of {@link ppoLoss} (one minibatch), each `[B, T]` unless noted. */
export interface PpoLossInput {
  /** Rollout log-probs of the sampled tokens (fixed). */
  readonly oldLogprobs: Float64BT;
  /** Rollout values·mask (fixed; from {@link computeAdvantages}). */
  readonly values: Float64BT;
  /** Current logits `[B, T, V]`, only for the entropy statistic; when omitted `policy/entropy` is NaN. */
  readonly logits?: Float64BTV;
  /** Current value predictions. */
  readonly vpreds: Float64BT;
  /** Current log-probs of the sampled tokens. */
  readonly logprobs: Float64BT;
  readonly mask: Float64BT;
  /** Whitened advantages (fixed). */
  readonly advantages: Float64BT;
  /** Returns (fixed). */
  readonly returns: Float64BT;
}

/** TRL's loss statistics (the `flatten_dict(stats)` of `PPOTrainer.loss`), same keys. */
export interface PpoLossStats {
  /** pg_loss (zeroed when skipped). */
  readonly 'loss/policy': number;
  /** The UNscaled vf_loss (zeroed when skipped). */
  readonly 'loss/value': number;
  /** pg_loss + vf_coef·vf_loss (zeroed when skipped). */
  readonly 'loss/total': number;
  readonly 'policy/entropy': number;
  /** ½·masked_mean((lp − old)²). */
  readonly 'policy/approxkl': number;
  /** masked_mean(old − lp). */
  readonly 'policy/policykl': number;
  /** Fraction of masked-in positions where the clipped branch is active; float32 in TRL (`.float()`). */
  readonly 'policy/clipfrac': number;
  /** The advantages passed in `[B, T]`. */
  readonly 'policy/advantages': Float64BT;
  readonly 'policy/advantages_mean': number;
  /** exp(lp − old) at every position `[B, T]`. */
  readonly 'policy/ratio': Float64BT;
  readonly 'returns/mean': number;
  /** Unbiased masked variance of the returns. */
  readonly 'returns/var': number;
  /** masked_mean(vpreds). */
  readonly 'val/vpred': number;
  /** masked_mean((vpreds − returns)²). */
  readonly 'val/error': number;
  /** float32 in TRL, like policy/clipfrac. */
  readonly 'val/clipfrac': number;
  readonly 'val/mean': number;
  readonly 'val/var': number;
}

/** Output of {@link ppoLoss}. */
interface PpoLossOutput {
  /** TRL's first return value: pg_loss (0 when skipped). */
  readonly pgLoss: number;
  /** The unscaled value loss ½·masked_mean(max(...)) (0 when skipped). */
  readonly vfLoss: number;
  /** TRL's second return value: vf_coef·vf_loss (0 when skipped). */
  readonly vfLossScaled: number;
  /** pg_loss + vf_coef·vf_loss (0 when skipped): what is back-propagated. */
  readonly loss: number;
  /** True when masked_mean(ratio) > ratioThreshold (TRL's "Skipping batch" warning). */
  readonly skipped: boolean;
  /** masked_mean(ratio), the quantity compared with ratioThreshold. */
  readonly avgRatio: number;
  readonly stats: PpoLossStats;
}

/** Rounds a count ratio to float32, as TRL's `torch.gt(...).float()` masked mean does. */
function float32Fraction(count: number, n: number): number {
  return Math.fround(count / n);
}

/**
 * TRL's `PPOTrainer.loss` in float64 (reference for the TensorFlow.js loss):
 * ```
 * vpredclipped = clip_by_value(vpreds, values − cv, values + cv)
 * vf_loss      = ½·masked_mean(max((vpreds−returns)², (vpredclipped−returns)²))
 * ratio        = exp(logprobs − old_logprobs)
 * pg_loss      = masked_mean(max(−A·ratio, −A·clamp(ratio, 1−ε, 1+ε)))
 * loss         = pg_loss + vf_coef·vf_loss, all three ×0 when masked_mean(ratio) > ratio_threshold
 * ```
 * The statistics follow TRL: `loss/value` is the unscaled vf_loss; the clip fractions are float32
 * (computed exactly as float32 here); returns/values variances are unbiased (Bessel).
 */
export function ppoLoss(input: PpoLossInput, config: PpoLossConfig): PpoLossOutput {
  const { oldLogprobs, values, vpreds, logprobs, mask, advantages, returns } = input;
  sameShape(
    'ppoLoss',
    ['logprobs', 'oldLogprobs', 'values', 'vpreds', 'mask', 'advantages', 'returns'],
    [logprobs, oldLogprobs, values, vpreds, mask, advantages, returns],
  );
  const { B, T } = logprobs;
  const { cliprange, cliprangeValue, vfCoef, ratioThreshold } = config;
  const n = maskCount(mask);
  let vfSum = 0;
  let vfClipCount = 0;
  let pgSum = 0;
  let pgClipCount = 0;
  let ratioSum = 0;
  let approxSum = 0;
  let policyklSum = 0;
  let errorSum = 0;
  const ratio = new Float64Array(B * T); // [B, T]
  for (let i = 0; i < B * T; i++) {
    const m = mask.data[i];
    const vpred = vpreds.data[i];
    const vpredClipped = Math.max(Math.min(vpred, values.data[i] + cliprangeValue), values.data[i] - cliprangeValue);
    const vf1 = (vpred - returns.data[i]) ** 2;
    const vf2 = (vpredClipped - returns.data[i]) ** 2;
    vfSum += Math.max(vf1, vf2) * m;
    vfClipCount += (vf2 > vf1 ? 1 : 0) * m;
    const diff = logprobs.data[i] - oldLogprobs.data[i];
    const r = Math.exp(diff);
    ratio[i] = r;
    const a = advantages.data[i];
    const pg1 = -a * r;
    const pg2 = -a * Math.min(Math.max(r, 1 - cliprange), 1 + cliprange);
    pgSum += Math.max(pg1, pg2) * m;
    pgClipCount += (pg2 > pg1 ? 1 : 0) * m;
    ratioSum += r * m;
    approxSum += diff * diff * m;
    policyklSum += (oldLogprobs.data[i] - logprobs.data[i]) * m;
    errorSum += (vpred - returns.data[i]) ** 2 * m;
  }
  let vfLoss = 0.5 * (vfSum / n);
  let pgLoss = pgSum / n;
  let loss = pgLoss + vfCoef * vfLoss;
  const avgRatio = ratioSum / n;
  const skipped = avgRatio > ratioThreshold;
  if (skipped) {
    pgLoss *= 0;
    vfLoss *= 0;
    loss *= 0;
  }
  const entropy = input.logits === undefined ? NaN : maskedMean(entropyFromLogits(input.logits), mask);
  const stats: PpoLossStats = {
    'loss/policy': pgLoss,
    'loss/value': vfLoss,
    'loss/total': loss,
    'policy/entropy': entropy,
    'policy/approxkl': 0.5 * (approxSum / n),
    'policy/policykl': policyklSum / n,
    'policy/clipfrac': float32Fraction(pgClipCount, n),
    'policy/advantages': advantages,
    'policy/advantages_mean': maskedMean(advantages, mask),
    'policy/ratio': { data: ratio, B, T },
    'returns/mean': maskedMean(returns, mask),
    'returns/var': maskedVar(returns, mask),
    'val/vpred': maskedMean(vpreds, mask),
    'val/error': errorSum / n,
    'val/clipfrac': float32Fraction(vfClipCount, n),
    'val/mean': maskedMean(values, mask),
    'val/var': maskedVar(values, mask),
  };
  return { pgLoss, vfLoss, vfLossScaled: vfCoef * vfLoss, loss, skipped, avgRatio, stats };
}
