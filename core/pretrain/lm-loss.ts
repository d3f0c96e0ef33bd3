/**
 * Causal language-modelling loss: mean next-token cross-entropy, for training (inside tf.variableGrads) and for
 * held-out evaluation (summed over windows, then exponentiated into perplexity).
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../model/causal-lm.js';
import type { TokenWindows } from './corpus.js';

/**
 * Mean cross-entropy of integer targets under logits, with its gradient written out: d loss / d logits =
 * (softmax(logits) − onehot(targets)) / N. Same value and gradient as −mean(logprobsFromLogitsTf) (core/ppo/batch.ts),
 * in fewer passes over the [N, V] logits, which are the largest tensors of a pretraining step.
 * @param logits [N, V]
 * @param targets [N] int32
 * @returns [] float32
 */
export function meanCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  const [n, v] = logits.shape;
  const onehot = tf.oneHot(targets, v, 1, 0, 'float32'); // [N, V]
  const ce = tf.customGrad((x, save) => {
    const lg = x as tf.Tensor2D; // [N, V]
    const lse = tf.logSumExp(lg, -1, true); // [N, 1]
    const picked = tf.sum(tf.mul(lg, onehot), -1, true); // [N, 1]
    (save as tf.GradSaveFunc)([lg, lse, onehot]); // kept (as clones) until the backward pass
    return {
      value: tf.div(tf.sum(tf.sub(lse, picked)), tf.scalar(n)) as tf.Scalar, // []
      gradFunc: (dy, saved) => {
        const [sl, sLse, sOnehot] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const softmax = tf.exp(tf.sub(sl, sLse)); // [N, V]
        return tf.mul(tf.sub(softmax, sOnehot), tf.div(dy, tf.scalar(n))); // [N, V]
      },
    };
  });
  const out = ce(logits) as tf.Scalar; // []
  onehot.dispose(); // the backward pass uses the saved clone
  return out;
}

/**
 * Mean cross-entropy (nats per token) of predicting `targets` from `inputs` with full attention masks.
 * @param inputs [B, T] int32
 * @param targets [B, T] int32 (inputs shifted left by one)
 * @returns [] float32
 */
export function causalLmLoss(model: CausalLM, inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [b, t] = inputs.shape;
    const mask = tf.onesLike(inputs) as tf.Tensor2D; // [B, T] int32
    const { logits } = model.forward(inputs, mask); // logits [B, T, V]
    const flat = tf.reshape(logits, [b * t, model.config.vocabSize]) as tf.Tensor2D; // [B*T, V]
    return meanCrossEntropy(flat, tf.reshape(targets, [b * t]) as tf.Tensor1D); // []
  });
}

/** Result of {@link evaluateLoss}. */
export interface EvalLoss {
  /** Mean cross-entropy per target token (nats). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Target tokens evaluated. */
  tokens: number;
}

/**
 * Mean held-out loss over the first `maxWindows` windows (all when omitted), `batchSize` windows per forward.
 * Allocates no tensors that outlive the call.
 */
export async function evaluateLoss(model: CausalLM, windows: TokenWindows, batchSize: number, maxWindows = Infinity): Promise<EvalLoss> {
  const n = Math.min(windows.count, maxWindows);
  const T = windows.seqLen;
  let sum = 0;
  let tokens = 0;
  for (let from = 0; from < n; from += batchSize) {
    const { inputs, targets, rows } = windows.slice(from, Math.min(batchSize, n - from));
    const lossT = tf.tidy(() => {
      const x = tf.tensor2d(inputs, [rows, T], 'int32'); // [B, T]
      const y = tf.tensor2d(targets, [rows, T], 'int32'); // [B, T]
      return causalLmLoss(model, x, y); // []
    });
    const loss = (await lossT.data())[0]!;
    lossT.dispose();
    sum += loss * rows * T;
    tokens += rows * T;
  }
  const loss = tokens > 0 ? sum / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
