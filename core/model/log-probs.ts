/**
 * Log-probabilities of chosen tokens from hidden states, without keeping more than one chunk of logits alive
 * outside autodiff: log p(target) = logit[target] - logsumexp(logits).
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm.js';
import { fusedLogProbs } from './wasm/fused-ops.js';
import { withWasmMemoryGuard } from './wasm/backend.js';

/**
 * Log-probability of each target token.
 * @param hidden [B, T, d] final hidden states (positions predicting the targets)
 * @param targets [B, T] int32 token ids
 * @param opts.chunkRows rows of B*T processed per logits chunk (default: all at once)
 * @returns [B, T]
 */
export function tokenLogProbs(model: CausalLM, hidden: tf.Tensor3D, targets: tf.Tensor2D, opts: { chunkRows?: number } = {}): tf.Tensor2D {
  const [b, t, d] = hidden.shape;
  const n = b * t;
  const V = model.config.vocabSize;
  if (targets.shape[0] !== b || targets.shape[1] !== t) {
    throw new Error(`tokenLogProbs: targets must be [${b}, ${t}] like hidden's leading dims, got ${JSON.stringify(targets.shape)}`);
  }
  const chunk = Math.max(1, Math.min(n, opts.chunkRows ?? n));
  return withWasmMemoryGuard(`log-probs of ${b}x${t} tokens over ${V} logits`, () =>
    tf.tidy(() => {
      const h2 = tf.reshape(hidden, [n, d]) as tf.Tensor2D; // [N, d]
      const tgt = tf.reshape(targets, [n]) as tf.Tensor1D; // [N]
      const parts: tf.Tensor1D[] = [];
      for (let s = 0; s < n; s += chunk) {
        const len = Math.min(chunk, n - s);
        const hc = len === n ? h2 : tf.slice(h2, [s, 0], [len, d]); // [n, d]
        const tc = len === n ? tgt : tf.slice(tgt, [s], [len]); // [n]
        const logits = model.lmHead(hc) as tf.Tensor2D; // [n, V]
        const fused = fusedLogProbs(logits, tc); // [n] (wasm kernels)
        if (fused) {
          parts.push(fused);
          continue;
        }
        const lse = tf.logSumExp(logits, -1); // [n]
        const flatIdx = tf.add(tf.mul(tf.range(0, len, 1, 'int32'), tf.scalar(V, 'int32')), tc); // [n]
        const picked = tf.gather(tf.reshape(logits, [len * V]), flatIdx); // [n]
        parts.push(tf.sub(picked, lse) as tf.Tensor1D); // [n]
      }
      const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); // [N]
      return tf.reshape(all, [b, t]) as tf.Tensor2D; // [B, T]
    }),
  );
}
