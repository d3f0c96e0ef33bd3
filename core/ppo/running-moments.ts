/**
 * TRL v0.11.4's `RunningMoments` (`trl/trainer/utils.py`) and the score scaling / normalisation /
 * clipping that `PPOTrainer.step` applies with it (`use_score_scaling`, `use_score_norm`, `score_clip`).
 *
 * TRL mixes float32 tensors and Python floats here, and the golden vectors depend on it, so the float32
 * steps are reproduced with `Math.fround`:
 * - the batch mean and biased variance are computed (double accumulation) then cast to float32;
 * - every tensor expression (delta, sums, the new variance and std) is float32 arithmetic, with each
 *   Python scalar operand cast to float32 first;
 * - `mean` is a Python float: the float32 increment is added to it in float64, so `mean` is generally
 *   NOT a float32 value; `var` and `std` are float32 values; `count` is a float64 that starts at 1e-24.
 * The running std is unbiased: sqrt(var·n/(n−1)). Initial state: mean 0, std 1, var 1, count 1e-24.
 */

/** Serialisable state of {@link RunningMoments}. */
export interface RunningMomentsState {
  readonly mean: number;
  readonly std: number;
  readonly var: number;
  readonly count: number;
}

const f32 = Math.fround;

/** Parallel-Welford running mean/variance of all scores seen so far (TRL semantics, see the module doc). */
export class RunningMoments {
  /** Running mean (a float64 accumulating float32 increments). */
  mean = 0;
  /** Running unbiased standard deviation (a float32 value). */
  std = 1;
  /** Running biased variance (a float32 value). */
  var = 1;
  /** Number of scores seen, plus the initial 1e-24. */
  count = 1e-24;

  /**
   * Folds a batch in (TRL's `RunningMoments.update`) and returns the batch's own mean and unbiased std
   * (both float32 values; the std is NaN for a single score, as in TRL).
   */
  update(xs: ArrayLike<number>): { mean: number; std: number } {
    const n = xs.length;
    if (n === 0) throw new RangeError('RunningMoments.update: the batch of scores is empty');
    let s = 0;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(xs[i])) throw new RangeError(`RunningMoments.update: score ${i} is ${xs[i]}, not a finite number`);
      s += xs[i];
    }
    const mean64 = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (xs[i] - mean64) ** 2;
    const xsMean = f32(mean64);
    const xsVar = f32(ss / n);

    const delta = f32(xsMean - f32(this.mean));
    const totCount = this.count + n;
    const newSum = f32(xsVar * n);
    // old_sum = var·count (Python floats) + delta²·count·n/tot_count (float32 tensor arithmetic)
    const correction = f32(f32(f32(f32(delta * delta) * f32(this.count)) * n) / f32(totCount));
    const oldSum = f32(f32(this.var * this.count) + correction);
    const totSum = f32(oldSum + newSum);

    this.mean += f32(f32(delta * n) / f32(totCount));
    const newVar = f32(totSum / f32(totCount));
    this.std = f32(Math.sqrt(f32(f32(newVar * f32(totCount)) / f32(totCount - 1))));
    this.var = newVar;
    this.count = totCount;
    return { mean: xsMean, std: f32(Math.sqrt(f32(f32(xsVar * n) / (n - 1)))) };
  }

  state(): RunningMomentsState {
    return { mean: this.mean, std: this.std, var: this.var, count: this.count };
  }

  static fromState(state: RunningMomentsState): RunningMoments {
    const r = new RunningMoments();
    for (const key of ['mean', 'std', 'var', 'count'] as const) {
      if (typeof state?.[key] !== 'number' || !Number.isFinite(state[key])) {
        throw new TypeError(`RunningMoments.fromState: state.${key} must be a finite number; got ${String(state?.[key])}`);
      }
    }
    r.mean = state.mean;
    r.std = state.std;
    r.var = state.var;
    r.count = state.count;
    return r;
  }
}

/** PPOConfig's score post-processing switches. */
interface ScoreScalingOptions {
  /** TRL `use_score_scaling`: update the running moments and divide by (running std + eps). */
  readonly useScoreScaling: boolean;
  /** TRL `use_score_norm`: also subtract the running mean. Has NO effect without useScoreScaling (as in TRL). */
  readonly useScoreNorm: boolean;
  /**
   * TRL `score_clip`: clip to [−scoreClip, +scoreClip] after scaling; null/undefined = off. TRL clips a
   * float32 copy, so clipped scores are float32 values even when dtype is 'float64'.
   */
  readonly scoreClip?: number | null;
  /**
   * The dtype of the score tensor TRL would hold: it sets eps (machine epsilon: 2^−23 for float32,
   * 2^−52 for float64) and the arithmetic precision of the scaling. Default 'float32'.
   */
  readonly dtype?: 'float32' | 'float64';
}

/**
 * TRL's score post-processing in `PPOTrainer.step`, in order: running-moments update (mutates
 * `running`), scaling `scores / (std + eps)` or normalising `(scores − mean) / (std + eps)`, then
 * clipping. Returns new scores; the input is not modified.
 */
export function processScores(scores: ArrayLike<number>, running: RunningMoments, opts: ScoreScalingOptions): Float64Array {
  const dtype = opts.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new RangeError(`processScores: dtype must be 'float32' or 'float64'; got ${String(dtype)}`);
  }
  const cast = dtype === 'float32' ? f32 : (x: number) => x;
  const out = Float64Array.from(scores, (x) => cast(x)); // [B]
  if (opts.useScoreScaling) {
    running.update(out);
    const eps = dtype === 'float32' ? 2 ** -23 : Number.EPSILON;
    const factor = cast(cast(running.std) + eps);
    const mean = cast(running.mean);
    for (let i = 0; i < out.length; i++) {
      out[i] = opts.useScoreNorm ? cast(cast(out[i] - mean) / factor) : cast(out[i] / factor);
    }
  }
  if (opts.scoreClip !== null && opts.scoreClip !== undefined) {
    const c = opts.scoreClip;
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`processScores: scoreClip must be a non-negative finite number; got ${c}`);
    // TRL: torch.clip(scores.float(), -c, c).to(dtype) — the clip runs in float32 even for float64 scores.
    const hi = f32(c);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(f32(out[i]), -hi), hi);
  }
  return out;
}
