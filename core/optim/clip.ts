import * as tf from '@tensorflow/tfjs';

/** What `clipGradNorm` returns. */
interface ClippedGrads {
  /** New tensors (the caller disposes them, and still owns the inputs): `grads[i] · min(1, maxNorm / (norm + 1e-6))`. */
  grads: tf.Tensor[];
  /** Global L2 norm of the gradients before clipping (what torch's `clip_grad_norm_` returns). */
  norm: number;
}

/**
 * Global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_` semantics (norm_type 2,
 * error_if_nonfinite false): `norm = ‖[‖g₀‖, ‖g₁‖, …]‖₂`, `coef = maxNorm / (norm + 1e-6)`, and every
 * gradient is multiplied by `min(coef, 1)` — also when that is 1, as torch does. TRL applies it
 * when `max_grad_norm` is set (`ppo.maxGradNorm`). A non-finite norm propagates into the gradients
 * (NaN), like torch's default.
 *
 * Reads the norm back (one `dataSync`), so the caller can log it. The inputs are not disposed.
 */
export function clipGradNorm(grads: readonly tf.Tensor[], maxNorm: number): ClippedGrads {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new Error(`clipGradNorm: maxNorm must be a finite number > 0 (got ${maxNorm})`);
  }
  if (grads.length === 0) return { grads: [], norm: 0 };
  const [clipped, normT] = tf.tidy(() => {
    const norms = grads.map((g) => tf.norm(g.asType('float32'))); // [] each
    const total = tf.norm(tf.stack(norms)); // []
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(total, tf.scalar(1e-6))), tf.scalar(1)); // []
    const out = grads.map((g) => tf.mul(g, coef)); // same shape as g
    return [out, total] as [tf.Tensor[], tf.Scalar];
  });
  const norm = normT.dataSync()[0]!;
  normT.dispose();
  return { grads: clipped, norm };
}
