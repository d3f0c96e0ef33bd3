/**
 * PPO math of Hugging Face TRL v0.11.4 (`trl/core.py` and `PPOTrainer` in `trl/trainer/ppo_trainer.py`)
 * as pure float64 functions on typed arrays. This is the reference the TensorFlow.js loss
 * (`loss.ts`) and the trainer are checked against; it is golden-tested against vectors produced by
 * TRL's own code in float64.
 *
 * Layout: a batch of per-position numbers is a {@link Float64BT} — `[B, T]` stored row-major, so the
 * element of sample `b` at position `t` is `data[b * T + t]`. Per-position vectors (logits, full
 * log-probabilities) are a {@link Float64BTV} — `[B, T, V]` row-major, element `(b, t, v)` at
 * `data[(b * T + t) * V + v]`. Position `t` holds what TRL's `batched_forward_pass` puts there: the
 * log-prob of token `t + 1` and the value of the prefix ending at token `t`; `mask` is 1 exactly on the
 * positions that predict response tokens.
 *
 * Every statistic (means, variances, whitening) is taken over the whole batch passed in (all rows
 * together), never per row, exactly as TRL does.
 */
import { mean } from '../util/mean.js';

/** A `[B, T]` float64 batch, row-major: element `(b, t)` is `data[b * T + t]`. */
export interface Float64BT {
  readonly data: Float64Array;
  readonly B: number;
  readonly T: number;
}

/** A `[B, T, V]` float64 batch of per-position vectors, row-major: `(b, t, v)` is `data[(b * T + t) * V + v]`. */
export interface Float64BTV {
  readonly data: Float64Array;
  readonly B: number;
  readonly T: number;
  readonly V: number;
}

/** TRL's `kl_penalty` choices: `kl` = lp − ref_lp (k1), `abs` = |k1|, `mse` = ½·k1², `full` = Σ_v π(v)(log π(v) − log π_ref(v)). */
export type KlPenaltyKind = 'kl' | 'abs' | 'mse' | 'full';

/** The KL penalty kinds, for validation messages. */
export const KL_PENALTY_KINDS: readonly KlPenaltyKind[] = ['kl', 'abs', 'mse', 'full'];

// ---------------------------------------------------------------------------------------------
// Construction and conversion helpers
// ---------------------------------------------------------------------------------------------

/** Wraps a flat row-major array as `[B, T]`; checks the length. */
export function btFrom(data: ArrayLike<number>, B: number, T: number): Float64BT {
  if (!Number.isInteger(B) || B < 0 || !Number.isInteger(T) || T < 0) {
    throw new RangeError(`btFrom: B and T must be non-negative integers; got B=${B}, T=${T}`);
  }
  if (data.length !== B * T) {
    throw new RangeError(`btFrom: data has ${data.length} elements but [B, T] = [${B}, ${T}] needs ${B * T}`);
  }
  return { data: data instanceof Float64Array ? data : Float64Array.from(data), B, T };
}

/** Builds a `[B, T]` batch from nested rows (all rows must have the same length). */
export function bt(rows: readonly (readonly number[])[]): Float64BT {
  const B = rows.length;
  const T = B === 0 ? 0 : rows[0].length;
  const data = new Float64Array(B * T); // [B, T]
  rows.forEach((row, b) => {
    if (row.length !== T) throw new RangeError(`bt: row ${b} has length ${row.length}, expected ${T} (rows must be rectangular)`);
    data.set(row, b * T);
  });
  return { data, B, T };
}

/** Builds a `[B, T, V]` batch from nested arrays (rectangular). */
export function btv(nested: readonly (readonly (readonly number[])[])[]): Float64BTV {
  const B = nested.length;
  const T = B === 0 ? 0 : nested[0].length;
  const V = T === 0 ? 0 : nested[0][0].length;
  const data = new Float64Array(B * T * V); // [B, T, V]
  nested.forEach((rows, b) => {
    if (rows.length !== T) throw new RangeError(`btv: sample ${b} has ${rows.length} positions, expected ${T}`);
    rows.forEach((vec, t) => {
      if (vec.length !== V) throw new RangeError(`btv: (${b}, ${t}) has ${vec.length} entries, expected ${V}`);
      data.set(vec, (b * T + t) * V);
    });
  });
  return { data, B, T, V };
}

/** A `[B, T]` batch of zeros. */
export function zerosBT(B: number, T: number): Float64BT {
  return btFrom(new Float64Array(B * T), B, T); // [B, T]
}

/** Nested rows of a `[B, T]` batch. */
export function btToRows(x: Float64BT): number[][] {
  return Array.from({ length: x.B }, (_, b) => Array.from(x.data.subarray(b * x.T, (b + 1) * x.T)));
}

function sameShape(where: string, names: readonly string[], xs: readonly Float64BT[]): void {
  const { B, T } = xs[0];
  xs.forEach((x, i) => {
    if (x.B !== B || x.T !== T || x.data.length !== B * T) {
      throw new RangeError(
        `${where}: ${names[i]} has shape [${x.B}, ${x.T}] (${x.data.length} elements) but ${names[0]} is [${B}, ${T}]`,
      );
    }
  });
}

function checkBTV(where: string, name: string, x: Float64BTV): void {
  if (x.data.length !== x.B * x.T * x.V) {
    throw new RangeError(`${where}: ${name} has ${x.data.length} elements, but [B, T, V] = [${x.B}, ${x.T}, ${x.V}]`);
  }
}

function isBTV(x: Float64BT | Float64BTV): x is Float64BTV {
  return typeof (x as Float64BTV).V === 'number';
}

// ---------------------------------------------------------------------------------------------
// trl/core.py
// ---------------------------------------------------------------------------------------------

/** Stable log Σ exp over `data[o .. o+V)`: one row of a `[B, T, V]` array. */
function rowLogSumExp(data: Float64Array, o: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, data[o + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(data[o + v] - max);
  return max + Math.log(sum);
}

/** `log_softmax(logits, dim=-1)` — TRL's `logprobs_from_logits(logits, None, gather=False)`. */
export function logSoftmax(logits: Float64BTV): Float64BTV {
  checkBTV('logSoftmax', 'logits', logits);
  const { B, T, V } = logits;
  const out = new Float64Array(B * T * V); // [B, T, V]
  for (let r = 0; r < B * T; r++) {
    const o = r * V;
    const lse = rowLogSumExp(logits.data, o, V);
    for (let v = 0; v < V; v++) out[o + v] = logits.data[o + v] - lse;
  }
  return { data: out, B, T, V };
}

/**
 * TRL's `logprobs_from_logits(logits, labels)`: the log-softmax gathered at `labels` (`[B, T]` integer
 * token ids, row-major, each in [0, V)).
 */
export function logprobsFromLogits(logits: Float64BTV, labels: ArrayLike<number>): Float64BT {
  const { B, T, V } = logits;
  if (labels.length !== B * T) {
    throw new RangeError(`logprobsFromLogits: labels has ${labels.length} elements, expected B*T = ${B * T}`);
  }
  const logp = logSoftmax(logits); // [B, T, V]
  const out = new Float64Array(B * T); // [B, T]
  for (let r = 0; r < B * T; r++) {
    const id = labels[r];
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new RangeError(`logprobsFromLogits: labels[${r}] = ${id} is not a token id in [0, ${V})`);
    }
    out[r] = logp.data[r * V + id];
  }
  return { data: out, B, T };
}

/** TRL's `entropy_from_logits`: `logsumexp(logits) − Σ_v softmax(logits)·logits` per position → `[B, T]`. */
export function entropyFromLogits(logits: Float64BTV): Float64BT {
  checkBTV('entropyFromLogits', 'logits', logits);
  const { B, T, V } = logits;
  const out = new Float64Array(B * T); // [B, T]
  for (let r = 0; r < B * T; r++) {
    const o = r * V;
    const lse = rowLogSumExp(logits.data, o, V);
    let expected = 0;
    for (let v = 0; v < V; v++) expected += Math.exp(logits.data[o + v] - lse) * logits.data[o + v];
    out[r] = lse - expected;
  }
  return { data: out, B, T };
}

/** TRL's `clip_by_value(x, min, max)` = `max(min(x, max), min)` elementwise (tensor bounds). */
export function clipByValue(x: Float64BT, lo: Float64BT, hi: Float64BT): Float64BT {
  sameShape('clipByValue', ['x', 'min', 'max'], [x, lo, hi]);
  const out = new Float64Array(x.data.length); // [B, T]
  for (let i = 0; i < out.length; i++) out[i] = Math.max(Math.min(x.data[i], hi.data[i]), lo.data[i]);
  return { data: out, B: x.B, T: x.T };
}

/** Σ mask over the batch. */
export function maskCount(mask: Float64BT): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/**
 * TRL's `masked_mean(values, mask)` = Σ values·mask / Σ mask over the whole batch. An all-zero mask
 * gives NaN (0/0), as in TRL.
 */
export function maskedMean(x: Float64BT, mask: Float64BT): number {
  sameShape('maskedMean', ['values', 'mask'], [x, mask]);
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.data.length; i++) {
    s += x.data[i] * mask.data[i];
    n += mask.data[i];
  }
  return s / n;
}

/** TRL's `masked_mean(values, mask, axis=1)`: one mean per row → `[B]`. */
export function maskedRowMean(x: Float64BT, mask: Float64BT): Float64Array {
  sameShape('maskedRowMean', ['values', 'mask'], [x, mask]);
  const out = new Float64Array(x.B); // [B]
  for (let b = 0; b < x.B; b++) {
    let s = 0;
    let n = 0;
    for (let t = 0; t < x.T; t++) {
      s += x.data[b * x.T + t] * mask.data[b * x.T + t];
      n += mask.data[b * x.T + t];
    }
    out[b] = s / n;
  }
  return out;
}

/**
 * TRL's `masked_var(values, mask, unbiased)`: the masked mean of (x − masked_mean)², times the Bessel
 * factor n/(n−1) when `unbiased` (the default), with n = Σ mask over the whole batch.
 * Throws when n == 0 (TRL raises there; we also refuse it for the biased form rather than return NaN).
 * With n == 1 the unbiased form is 0·∞ = NaN, as in TRL.
 */
export function maskedVar(x: Float64BT, mask: Float64BT, unbiased = true): number {
  sameShape('maskedVar', ['values', 'mask'], [x, mask]);
  const n = maskCount(mask);
  if (n === 0) {
    throw new RangeError(
      'maskedVar: the mask sums to 0 (no masked-in position), so the variance is undefined; ' +
        'TRL raises here too — use a larger mini_batch_size or check the response masks',
    );
  }
  const mean = maskedMean(x, mask);
  let s = 0;
  for (let i = 0; i < x.data.length; i++) {
    const c = x.data[i] - mean;
    s += c * c * mask.data[i];
  }
  const variance = s / n;
  return unbiased ? variance * (n / (n - 1)) : variance;
}

/**
 * TRL's `masked_whiten(values, mask, shift_mean)`: `(x − mean)·rsqrt(var + 1e-8)` with the masked mean
 * and unbiased masked variance, applied to ALL positions (masked-out ones too); with `shiftMean=false`
 * the mean is added back.
 */
export function maskedWhiten(x: Float64BT, mask: Float64BT, shiftMean = true): Float64BT {
  const mean = maskedMean(x, mask);
  const variance = maskedVar(x, mask);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float64Array(x.data.length); // [B, T]
  for (let i = 0; i < out.length; i++) {
    out[i] = (x.data[i] - mean) * scale;
    if (!shiftMean) out[i] += mean;
  }
  return { data: out, B: x.B, T: x.T };
}

/** TRL's unmasked `whiten(values, shift_mean)`: mean and unbiased variance over every element. */
export function whiten(x: Float64BT, shiftMean = true): Float64BT {
  const n = x.data.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x.data[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x.data[i] - mean) ** 2;
  const variance = ss / (n - 1);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float64Array(n); // [B, T]
  for (let i = 0; i < n; i++) out[i] = (x.data[i] - mean) * scale + (shiftMean ? 0 : mean);
  return { data: out, B: x.B, T: x.T };
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
export function klPenalty(
  kind: KlPenaltyKind,
  logprob: Float64BT | Float64BTV,
  refLogprob: Float64BT | Float64BTV,
): Float64BT {
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
export interface ComputeRewardsInput {
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
export interface ComputeRewardsOutput {
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
export interface ComputeAdvantagesInput {
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
export interface ComputeAdvantagesOutput {
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
export interface PpoLossOutput {
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

// ---------------------------------------------------------------------------------------------
// PPOTrainer.record_step_stats (+ the stacking done in step())
// ---------------------------------------------------------------------------------------------

/** TRL's WANDB_PADDING: the pad value of stacked per-minibatch arrays (and what NaN advantages become). */
export const WANDB_PADDING = -1;

/** Inputs of {@link stepStats} (names follow TRL's `record_step_stats(**data)`). */
export interface StepStatsInput {
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
  sameShape('stepStats', ['mask', 'kls', 'logprobs', 'refLogprobs', 'nonScoreReward'], [
    mask,
    kls,
    logprobs,
    input.refLogprobs,
    input.nonScoreReward,
  ]);
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
      'ppo/policy/advantages': stackFlat(input.trainStats.map((s) => s['policy/advantages']), WANDB_PADDING),
      'ppo/policy/ratio': stackFlat(input.trainStats.map((s) => s['policy/ratio']), null),
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
