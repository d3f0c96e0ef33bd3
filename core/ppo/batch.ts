import * as tf from '@tensorflow/tfjs';

/**
 * TRL's `batched_forward_pass` layout for a PPO batch: each row is `cat(query, response)`,
 * right-padded to the longest row. Position t of the `[B, L-1]` arrays holds the log-prob of
 * token t+1 and the value of the prefix ending at token t; `mask` is 1 exactly on the positions
 * that predict response tokens (`[len(q)-1, len(q)-1+len(r))`), so the first response token's
 * value is read from the last query token.
 */
export interface PpoBatch {
  batchSize: number;
  /** Longest query+response: the padded row length L. */
  length: number;
  inputIds: Int32Array; // [B, L]
  attentionMask: Int32Array; // [B, L]
  /** 1 on positions predicting response tokens. */
  mask: Float64Array; // [B, L-1]
  queryLengths: number[];
  responseLengths: number[];
}

export function buildBatch(queries: readonly number[][], responses: readonly number[][], padTokenId: number): PpoBatch {
  if (queries.length !== responses.length) {
    throw new Error(`PPO batch: ${queries.length} queries but ${responses.length} responses`);
  }
  const B = queries.length;
  const L = Math.max(2, ...queries.map((q, i) => q.length + responses[i]!.length));
  const inputIds = new Int32Array(B * L).fill(padTokenId); // [B, L]
  const attentionMask = new Int32Array(B * L); // [B, L]
  const mask = new Float64Array(B * (L - 1)); // [B, L-1]
  for (let b = 0; b < B; b++) {
    const q = queries[b]!;
    const r = responses[b]!;
    if (q.length === 0) throw new Error(`PPO batch: query ${b} is empty`);
    if (r.length === 0) throw new Error(`PPO batch: response ${b} is empty`);
    const row = [...q, ...r];
    inputIds.set(row, b * L);
    attentionMask.fill(1, b * L, b * L + row.length);
    const start = q.length - 1;
    mask.fill(1, b * (L - 1) + start, b * (L - 1) + start + r.length);
  }
  return {
    batchSize: B,
    length: L,
    inputIds,
    attentionMask,
    mask,
    queryLengths: queries.map((q) => q.length),
    responseLengths: responses.map((r) => r.length),
  };
}

/** Rows `rows` of a `[B, W]` array, as a new `[rows.length, W]` array. */
export function takeRows<T extends Int32Array | Float64Array | Float32Array>(data: T, width: number, rows: readonly number[]): T {
  const out = new (data.constructor as new (n: number) => T)(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/**
 * log π(label) at every position: logits `[B, T, V]`, labels `[B, T]` int32 → `[B, T]`; TRL's
 * `logprobs_from_logits` as a differentiable tensor (float64 counterpart: `arrays.ts#logprobsFromLogits`).
 * Built from a log-softmax and a one-hot product rather than `gather`, so its gradient needs no
 * scatter kernel (the wasm backend has none) and stays one fused reduction. It starts from logits you
 * already hold; `tokenLogProbs` (core/model/log-probs.ts) starts from hidden states and applies the LM
 * head itself, chunk by chunk.
 */
export function logprobsFromLogitsTf(logits: tf.Tensor3D, labels: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, T, V]
    const onehot = tf.oneHot(labels.toInt(), logits.shape[2]).toFloat(); // [B, T, V] (int32 one-hot, then cast)
    return tf.sum(tf.mul(logp, onehot), -1) as tf.Tensor2D; // [B, T]
  });
}

/** Entropy of the softmax at every position: `[B, T, V]` → `[B, T]` (TRL: logsumexp − Σ p·logits). */
export function logitsEntropy(logits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const lse = tf.logSumExp(logits, -1); // [B, T]
    const p = tf.softmax(logits); // [B, T, V]
    return tf.sub(lse, tf.sum(tf.mul(p, logits), -1)) as tf.Tensor2D; // [B, T]
  });
}

/**
 * Full-distribution KL per position, Σ_v π(v)(log π(v) − log π_ref(v)) (TRL's `kl_penalty="full"`):
 * `[B, T, V]` × 2 → `[B, T]`.
 */
export function fullKl(logits: tf.Tensor3D, refLogits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(logits); // [B, T, V]
    const lq = tf.logSoftmax(refLogits); // [B, T, V]
    return tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1) as tf.Tensor2D; // [B, T]
  });
}
