/**
 * The lean loss head: per-token log-probabilities of chosen tokens and the entropy of each position's distribution,
 * straight from the final hidden states, a chunk of rows at a time. Each chunk is one differentiable op that keeps
 * only its hidden rows (not its [rows, vocab] logits) for the backward pass, where the logits are recomputed and the
 * gradient written out (a handful of [rows, vocab] temporaries per chunk), so
 * neither the forward nor the backward ever holds the logits of every token at once.
 *
 * log p(t) = z_t - logsumexp(z);  entropy = logsumexp(z) - Σ softmax(z)·z   (TRL's logits-based entropy).
 */
import * as tf from '@tensorflow/tfjs';

/** Default rows (tokens) per logits chunk. */
export const DEFAULT_HEAD_CHUNK_ROWS = 128;

/**
 * Log-prob and entropy of one chunk.
 * @param h [n, d] hidden rows
 * @param w [V, d] output embedding
 * @param t [n] int32 targets
 * @returns [n, 2] (log-prob, entropy)
 */
function headChunk(h: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D, b?: tf.Tensor1D): tf.Tensor2D {
  const n = h.shape[0];
  const V = w.shape[0];
  const logits = b ? tf.add(tf.matMul(h, w, false, true), b) : tf.matMul(h, w, false, true); // [n, V]
  const lse = tf.logSumExp(logits, -1); // [n]
  const flat = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(V, 'int32')), t); // [n]
  const picked = tf.gather(tf.reshape(logits, [n * V]), flat); // [n]
  const expected = tf.sum(tf.mul(tf.softmax(logits, -1), logits), -1); // [n]
  return tf.stack([tf.sub(picked, lse), tf.sub(lse, expected)], 1) as tf.Tensor2D; // [n, 2]
}

/**
 * The chunk's gradient, with its logits recomputed: for dlp, dent the incoming gradients of log-prob and entropy,
 * dz = -p·(dent·(z - Σp·z) + dlp) + onehot(t)·dlp, then dh = dz·W and dW = dzᵀ·h.
 */
function headChunkGrad(dy: tf.Tensor2D, h: tf.Tensor2D, w: tf.Tensor2D, t: tf.Tensor1D, b?: tf.Tensor1D): tf.Tensor[] {
  return tf.tidy(() => {
    const V = w.shape[0];
    const [dlp, dent] = tf.split(dy, 2, 1) as [tf.Tensor2D, tf.Tensor2D]; // [n, 1] each
    const z = b ? tf.add(tf.matMul(h, w, false, true), b) : tf.matMul(h, w, false, true); // [n, V]
    const p = tf.softmax(z, -1); // [n, V]
    const mean = tf.sum(tf.mul(p, z), -1, true); // [n, 1]
    const coef = tf.add(tf.mul(tf.sub(z, mean), dent), dlp); // [n, V]
    const dz = tf.add(tf.neg(tf.mul(p, coef)), tf.mul(tf.oneHot(t, V, 1, 0, 'float32'), dlp)) as tf.Tensor2D; // [n, V]
    const grads = [tf.matMul(dz, w), tf.matMul(dz, h, true, false)]; // [n, d], [V, d]
    return b ? [...grads, tf.sum(dz, 0)] : grads; // (+ [V] for the bias)
  });
}

/** One chunk as a differentiable op that keeps only its inputs: (h, w, t) or, with an output bias, (h, w, t, b). */
const recomputedChunk = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const save = args[args.length - 1] as tf.GradSaveFunc;
  const inputs = args.slice(0, -1) as tf.Tensor[];
  save(inputs);
  const [h, w, t, b] = inputs as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D | undefined];
  return {
    value: headChunk(h, w, t, b), // [n, 2] (inside a custom op: not taped)
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [hs, ws, ts, bs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D | undefined];
      const [dh, dw, db] = headChunkGrad(dy as tf.Tensor2D, hs, ws, ts, bs); // [n, d], [V, d] (, [V])
      return bs ? [dh!, dw!, tf.zerosLike(ts), db!] : [dh!, dw!, tf.zerosLike(ts)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: tf.Tensor[]) => tf.Tensor;

/**
 * Log-probabilities of `targets` and entropies, chunk by chunk.
 * @param hidden [B, T, d] final hidden states
 * @param outputEmbedding [V, d]
 * @param targets [B, T] int32
 * @param opts.chunkRows rows of B*T per chunk (default {@link DEFAULT_HEAD_CHUNK_ROWS})
 * @param opts.bias [V] output bias (GPT-J's lm_head), if any
 * @returns logprobs [B, T], entropy [B, T]
 */
export function leanTokenStats(
  hidden: tf.Tensor3D,
  outputEmbedding: tf.Tensor,
  targets: tf.Tensor2D,
  opts: { chunkRows?: number; bias?: tf.Tensor1D | null } = {},
): { logprobs: tf.Tensor2D; entropy: tf.Tensor2D } {
  const [b, t, d] = hidden.shape;
  if (targets.shape[0] !== b || targets.shape[1] !== t) {
    throw new Error(`leanTokenStats: targets must be [${b}, ${t}] like hidden's leading dims, got ${JSON.stringify(targets.shape)}`);
  }
  const chunkRows = opts.chunkRows ?? DEFAULT_HEAD_CHUNK_ROWS;
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new Error(`leanTokenStats: chunkRows must be a positive integer, got ${chunkRows}`);
  const n = b * t;
  return tf.tidy(() => {
    const h2 = tf.reshape(hidden, [n, d]) as tf.Tensor2D; // [N, d]
    const tg = tf.reshape(tf.cast(targets, 'int32'), [n]) as tf.Tensor1D; // [N]
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < n; s += chunkRows) {
      const len = Math.min(chunkRows, n - s);
      const hc = len === n ? h2 : tf.slice(h2, [s, 0], [len, d]); // [n, d]
      const tc = len === n ? tg : tf.slice(tg, [s], [len]); // [n]
      parts.push(opts.bias ? recomputedChunk(hc, outputEmbedding, tc, opts.bias) : recomputedChunk(hc, outputEmbedding, tc)); // [n, 2]
    }
    const all = parts.length === 1 ? parts[0]! : tf.concat(parts, 0); // [N, 2]
    const [lp, ent] = tf.split(all, 2, 1); // [N, 1] each
    return { logprobs: tf.reshape(lp!, [b, t]) as tf.Tensor2D, entropy: tf.reshape(ent!, [b, t]) as tf.Tensor2D }; // [B, T] each
  });
}
