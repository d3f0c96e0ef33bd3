/**
 * TRL v0.11.4's `PPOTrainer.loss` in TensorFlow.js (float32, differentiable w.r.t. the current
 * log-probs and value predictions). `math.ts#ppoLoss` is the float64 reference it is tested against.
 *
 * Semantics (masked means are over the whole minibatch: Σ x·mask / Σ mask):
 * ```
 * vpredclipped = max(min(vpreds, oldValues + cv), oldValues − cv)            (clip_by_value)
 * vfLoss       = ½·masked_mean(max((vpreds − returns)², (vpredclipped − returns)²))
 * ratio        = exp(logprobs − oldLogprobs)
 * pgLoss       = masked_mean(max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε)))
 * loss         = pgLoss + vfCoef·vfLoss
 * if masked_mean(ratio) > ratioThreshold: pgLoss, vfLoss, loss ×= 0           ("Skipping batch")
 * ```
 * The skip multiplies by 0 (gradients become exactly 0, and — as in TRL — an optimiser step with zero
 * gradients still moves Adam's weights by its momentum). The skip decision is made on the device
 * (no host read) through `tf.step`, whose gradient is zero, so it does not perturb the backward pass.
 * Statistics never feed the loss, so they add nothing to the gradient.
 *
 * Memory: {@link ppoLossTf} runs in `tf.tidy` and returns only new tensors, which the caller owns.
 * Inside `tf.variableGrads`/`tf.grads` the forward function is itself tidied, so keep what you need:
 * ```ts
 * let out!: PpoLossTfOutput;
 * const { value, grads } = tf.variableGrads(() => {
 *   out = keepPpoLossTfOutput(ppoLossTf(inputs, config));   // stats survive the gradient tidy
 *   return out.loss;
 * });
 * const stats = await readPpoLossStats(out, advantagesF64); disposePpoLossTfOutput(out); …
 * ```
 */
import * as tf from '@tensorflow/tfjs';
import type { Float64BT } from './arrays.js';
import type { PpoLossConfig, PpoLossStats } from './math.js';

/** Inputs of {@link ppoLossTf}; every `[B, T]` tensor must have the same shape. */
export interface PpoLossTfInput {
  /** Current log-probs of the sampled tokens `[B, T]` float32 (differentiable). */
  readonly logprobs: tf.Tensor2D;
  /** Current value predictions `[B, T]` float32 (differentiable). */
  readonly vpreds: tf.Tensor2D;
  /** Rollout log-probs `[B, T]` (fixed). */
  readonly oldLogprobs: tf.Tensor2D;
  /** Rollout values·mask `[B, T]` (fixed; TRL's `values` from compute_advantages). */
  readonly oldValues: tf.Tensor2D;
  /** Whitened advantages `[B, T]` (fixed). */
  readonly advantages: tf.Tensor2D;
  /** Returns `[B, T]` (fixed). */
  readonly returns: tf.Tensor2D;
  /** `[B, T]` 0/1, float32 or int32 or bool. An all-zero mask gives NaN everywhere (TRL raises in masked_var). */
  readonly mask: tf.Tensor2D;
  /** Current logits `[B, T, V]`, only for `policy/entropy` (NaN when omitted). */
  readonly logits?: tf.Tensor3D;
  /**
   * Denominator of every masked mean instead of Σ mask (default). A data-parallel shard of a minibatch passes the
   * whole minibatch's Σ mask, so the shards' losses (and gradients) sum exactly to the minibatch's.
   */
  readonly normaliser?: number;
}

/** Scalar statistic keys of {@link ppoLossTf} (TRL's loss stats except the two `[B, T]` arrays). */
export type PpoLossTfStatKey = Exclude<keyof PpoLossStats, 'policy/advantages' | 'policy/ratio'>;

/** Output of {@link ppoLossTf}; every tensor is new and owned by the caller. */
export interface PpoLossTfOutput {
  /** pgLoss + vfCoef·vfLoss, ×0 when skipped: the scalar to differentiate. */
  readonly loss: tf.Scalar;
  /** ×0 when skipped. */
  readonly pgLoss: tf.Scalar;
  /** Unscaled value loss, ×0 when skipped. */
  readonly vfLoss: tf.Scalar;
  /** vfCoef·vfLoss (TRL's second return value). */
  readonly vfLossScaled: tf.Scalar;
  /** 1 when masked_mean(ratio) > ratioThreshold (the minibatch is skipped), else 0. */
  readonly skipped: tf.Scalar;
  /** masked_mean(ratio). */
  readonly avgRatio: tf.Scalar;
  /** exp(logprobs − oldLogprobs) `[B, T]`. */
  readonly ratio: tf.Tensor2D;
  /** TRL's scalar statistics (float32). */
  readonly stats: Readonly<Record<PpoLossTfStatKey, tf.Scalar>>;
}

function checkInputs(input: PpoLossTfInput): void {
  const names = ['logprobs', 'vpreds', 'oldLogprobs', 'oldValues', 'advantages', 'returns', 'mask'] as const;
  const shape = input.logprobs?.shape;
  if (!shape || shape.length !== 2) {
    throw new RangeError(`ppoLossTf: logprobs must be a [B, T] tensor; got shape ${JSON.stringify(shape)}`);
  }
  for (const name of names) {
    const t = input[name];
    if (!(t instanceof tf.Tensor)) throw new TypeError(`ppoLossTf: ${name} must be a tf.Tensor`);
    if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new RangeError(`ppoLossTf: ${name} has shape [${t.shape.join(', ')}] but logprobs is [${shape.join(', ')}]`);
    }
    if (name !== 'mask' && t.dtype !== 'float32') {
      throw new TypeError(`ppoLossTf: ${name} must be float32; got ${t.dtype}`);
    }
  }
  const { logits, normaliser } = input;
  if (normaliser !== undefined && !(Number.isFinite(normaliser) && normaliser > 0)) {
    throw new RangeError(`ppoLossTf: normaliser must be a positive finite number (the minibatch's mask sum); got ${String(normaliser)}`);
  }
  if (logits !== undefined && (logits.shape.length !== 3 || logits.shape[0] !== shape[0] || logits.shape[1] !== shape[1])) {
    throw new RangeError(`ppoLossTf: logits must be [${shape[0]}, ${shape[1]}, V]; got [${logits.shape.join(', ')}]`);
  }
}

function checkConfig(config: PpoLossConfig): void {
  for (const key of ['cliprange', 'cliprangeValue', 'vfCoef', 'ratioThreshold'] as const) {
    if (typeof config[key] !== 'number' || Number.isNaN(config[key])) {
      throw new RangeError(`ppoLossTf: config.${key} must be a number; got ${String(config[key])}`);
    }
  }
}

/** TRL's PPO loss for one minibatch, in TensorFlow.js (see the module doc). */
export function ppoLossTf(input: PpoLossTfInput, config: PpoLossConfig): PpoLossTfOutput {
  checkInputs(input);
  checkConfig(config);
  const { cliprange, cliprangeValue, vfCoef, ratioThreshold } = config;
  return tf.tidy(() => {
    const { logprobs, vpreds, oldLogprobs, oldValues, advantages, returns } = input;
    const mask = tf.cast(input.mask, 'float32'); // [B, T]
    const n = input.normaliser === undefined ? tf.sum(mask) : tf.scalar(input.normaliser, 'float32'); // []
    const maskedMean = (x: tf.Tensor): tf.Scalar => tf.div(tf.sum(tf.mul(x, mask)), n); // []
    const maskedVar = (x: tf.Tensor): tf.Scalar => {
      const centred = tf.sub(x, maskedMean(x)); // [B, T]
      const bessel = tf.div(n, tf.sub(n, 1)); // []
      return tf.mul(maskedMean(tf.square(centred)), bessel); // []
    };

    const vpredClipped = tf.maximum(tf.minimum(vpreds, tf.add(oldValues, cliprangeValue)), tf.sub(oldValues, cliprangeValue)); // [B, T]
    const vfLosses1 = tf.square(tf.sub(vpreds, returns)); // [B, T]
    const vfLosses2 = tf.square(tf.sub(vpredClipped, returns)); // [B, T]
    const vfLossRaw = tf.mul(maskedMean(tf.maximum(vfLosses1, vfLosses2)), 0.5); // []
    const vfClipfrac = maskedMean(tf.cast(tf.greater(vfLosses2, vfLosses1), 'float32')); // []

    const logRatio = tf.sub(logprobs, oldLogprobs); // [B, T]
    const ratio = tf.exp(logRatio); // [B, T]
    const negAdv = tf.neg(advantages); // [B, T]
    const pgLosses1 = tf.mul(negAdv, ratio); // [B, T]
    const pgLosses2 = tf.mul(negAdv, tf.clipByValue(ratio, 1 - cliprange, 1 + cliprange)); // [B, T]
    const pgLossRaw = maskedMean(tf.maximum(pgLosses1, pgLosses2)); // []
    const pgClipfrac = maskedMean(tf.cast(tf.greater(pgLosses2, pgLosses1), 'float32')); // []

    const lossRaw = tf.add(pgLossRaw, tf.mul(vfLossRaw, vfCoef)); // []
    const avgRatio = maskedMean(ratio); // []
    // step(x) = 1 if x > 0 else 0, with a zero gradient: skip when avgRatio > ratioThreshold.
    const skipped = tf.step(tf.sub(avgRatio, ratioThreshold)) as tf.Scalar; // []
    const keep = tf.sub(1, skipped); // []
    const pgLoss = tf.mul(pgLossRaw, keep) as tf.Scalar; // []
    const vfLoss = tf.mul(vfLossRaw, keep) as tf.Scalar; // []
    const loss = tf.mul(lossRaw, keep) as tf.Scalar; // []

    let entropy: tf.Scalar;
    if (input.logits !== undefined) {
      const logits = tf.cast(input.logits, 'float32'); // [B, T, V]
      const lse = tf.logSumExp(logits, -1); // [B, T]
      const expected = tf.sum(tf.mul(tf.softmax(logits, -1), logits), -1); // [B, T]
      entropy = maskedMean(tf.sub(lse, expected)); // []
    } else {
      entropy = tf.scalar(NaN); // []
    }

    const stats: Record<PpoLossTfStatKey, tf.Scalar> = {
      'loss/policy': tf.clone(pgLoss), // []
      'loss/value': tf.clone(vfLoss), // []
      'loss/total': tf.clone(loss), // []
      'policy/entropy': entropy, // []
      'policy/approxkl': tf.mul(maskedMean(tf.square(logRatio)), 0.5), // []
      'policy/policykl': maskedMean(tf.neg(logRatio)), // []
      'policy/clipfrac': pgClipfrac, // []
      'policy/advantages_mean': maskedMean(advantages), // []
      'returns/mean': maskedMean(returns), // []
      'returns/var': maskedVar(returns), // []
      'val/vpred': maskedMean(vpreds), // []
      'val/error': maskedMean(vfLosses1), // []
      'val/clipfrac': vfClipfrac, // []
      'val/mean': maskedMean(oldValues), // []
      'val/var': maskedVar(oldValues), // []
    };
    return {
      loss,
      pgLoss,
      vfLoss,
      vfLossScaled: tf.mul(vfLoss, vfCoef) as tf.Scalar, // []
      skipped,
      avgRatio,
      ratio: ratio as tf.Tensor2D,
      stats,
    };
  });
}

function outputTensors(out: PpoLossTfOutput): tf.Tensor[] {
  return [out.loss, out.pgLoss, out.vfLoss, out.vfLossScaled, out.skipped, out.avgRatio, out.ratio, ...Object.values(out.stats)];
}

/** Marks every tensor of `out` with `tf.keep` (so it survives an enclosing tidy, e.g. tf.variableGrads); returns `out`. */
export function keepPpoLossTfOutput(out: PpoLossTfOutput): PpoLossTfOutput {
  for (const t of outputTensors(out)) tf.keep(t);
  return out;
}

/** Disposes every tensor of `out`. */
export function disposePpoLossTfOutput(out: PpoLossTfOutput): void {
  tf.dispose(outputTensors(out));
}

/**
 * Reads the statistics of {@link ppoLossTf} back into the float64 {@link PpoLossStats} record that
 * `step-stats.ts#stepStats` consumes. `advantages` are the minibatch's advantages (host copy). Does not dispose.
 */
export async function readPpoLossStats(out: PpoLossTfOutput, advantages: Float64BT): Promise<PpoLossStats> {
  const keys = Object.keys(out.stats) as PpoLossTfStatKey[];
  const values = await Promise.all(keys.map((k) => out.stats[k].data()));
  const [B, T] = out.ratio.shape;
  if (advantages.B !== B || advantages.T !== T) {
    throw new RangeError(`readPpoLossStats: advantages is [${advantages.B}, ${advantages.T}] but the ratio is [${B}, ${T}]`);
  }
  const ratio = Float64Array.from(await out.ratio.data()); // [B, T]
  const scalars = Object.fromEntries(keys.map((k, i) => [k, values[i][0]])) as Record<PpoLossTfStatKey, number>;
  return { ...scalars, 'policy/advantages': advantages, 'policy/ratio': { data: ratio, B, T } };
}
