/**
 * What one rank of the data-parallel PPO computes on its share of rows: the no-grad rollout pass and the gradient of
 * its share of a mini-batch's loss. The main thread (rank 0) and every worker thread run these same functions on
 * their own policy replica, so a rank's result never depends on which thread computed it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../interfaces/policy.js';
import type { PpoLossConfig } from './math.js';
import { fullKl, logitsEntropy, logprobsFromLogitsTf } from './batch.js';
import { ppoLossTf } from './loss.js';

/** Rows of a PPO batch (`cat(query, response)`, right-padded to L), plain data. */
export interface ShardRows {
  /** Rows. */
  b: number;
  /** Padded row length. */
  L: number;
  /** `[b, L]`. */
  inputIds: Int32Array;
  /** `[b, L]`, 1 = token. */
  attentionMask: Int32Array;
}

/** Per-token host arrays of the rollout pass, `[b, L-1]` each. */
export interface ShardRollout {
  logprobs: Float32Array;
  refLogprobs: Float32Array;
  values: Float32Array;
  /** Only with `full` (ppo.klPenalty 'full'): Σ_v π(v)(log π(v) − log π_ref(v)). */
  fullKls?: Float32Array;
}

const slice2 = (t: tf.Tensor, cols: [number, number]) => t.slice([0, cols[0]], [-1, cols[1]]);

/** Rows `[start, start + n)` of a `[b, W]` array (a copy). */
function rowRange<T extends Int32Array | Float32Array>(data: T, width: number, start: number, n: number): T {
  return data.slice(start * width, (start + n) * width) as T;
}

/**
 * Policy and reference log-probs and values of `rows`, in chunks of `chunk` rows (TRL's batched_forward_pass). With
 * `full`, also the full-distribution KL. Uses the policy's lean head when it has one and `full` is off.
 */
export function shardRollout(policy: Policy, rows: ShardRows, chunk: number, full: boolean): ShardRollout {
  const { b, L } = rows;
  const T = L - 1;
  const logprobs = new Float32Array(b * T); // [b, T]
  const refLogprobs = new Float32Array(b * T); // [b, T]
  const values = new Float32Array(b * T); // [b, T]
  const kls = full ? new Float32Array(b * T) : undefined; // [b, T]
  for (let start = 0; start < b; start += chunk) {
    const n = Math.min(chunk, b - start);
    const outs = tf.tidy(() => {
      const ids = tf.tensor2d(rowRange(rows.inputIds, L, start, n), [n, L], 'int32'); // [n, L]
      const am = tf.tensor2d(rowRange(rows.attentionMask, L, start, n), [n, L], 'int32'); // [n, L]
      if (!full && policy.tokenStats) {
        // Lean head: log-probs straight from hidden states, never all [n, T, V] logits.
        const pol = policy.tokenStats(ids, am, 'policy');
        const ref = policy.tokenStats(ids, am, 'reference');
        return [pol.logprobs, ref.logprobs, pol.values]; // [n, T] each
      }
      const labels = slice2(ids, [1, T]) as tf.Tensor2D; // [n, T]
      const pol = policy.forward(ids, am, 'policy');
      const logits = pol.logits.slice([0, 0, 0], [-1, T, -1]) as tf.Tensor3D; // [n, T, V]
      const ref = policy.forward(ids, am, 'reference');
      const refLogits = ref.logits.slice([0, 0, 0], [-1, T, -1]) as tf.Tensor3D; // [n, T, V]
      return [
        logprobsFromLogitsTf(logits, labels), // [n, T]
        logprobsFromLogitsTf(refLogits, labels), // [n, T]
        slice2(pol.values, [0, T]), // [n, T]
        ...(full ? [fullKl(logits, refLogits)] : []), // [n, T]
      ];
    });
    const host = outs.map((o) => o.dataSync() as Float32Array);
    tf.dispose(outs);
    logprobs.set(host[0]!, start * T);
    refLogprobs.set(host[1]!, start * T);
    values.set(host[2]!, start * T);
    if (kls) kls.set(host[3]!, start * T);
  }
  return { logprobs, refLogprobs, values, ...(kls ? { fullKls: kls } : {}) };
}

/** One rank's share of a mini-batch: its rows plus the fixed PPO inputs, `[b, L-1]` float32 each. */
export interface GradShardInput extends ShardRows {
  oldLogprobs: Float32Array;
  oldValues: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
  /** 0/1 response mask. */
  mask: Float32Array;
  /** Σ mask of the WHOLE mini-batch: the denominator of every masked mean, so the ranks' losses sum to the mini-batch loss. */
  normaliser: number;
}

/** What a rank hands back besides its gradients: the per-token arrays the mini-batch statistics are computed from. */
export interface GradShardHost {
  /** Current log-probs of the sampled tokens `[b, T]`. */
  logprobs: Float32Array;
  /** Current value predictions `[b, T]`. */
  vpreds: Float32Array;
  /** Entropy of each position's distribution `[b, T]`. */
  entropy: Float32Array;
}

/**
 * Gradient of this rank's share of a mini-batch's PPO loss (masked means over the whole mini-batch's mask sum, no
 * ratio-threshold skip: the caller decides that on the whole mini-batch) with respect to `vars`, plus the per-token
 * host arrays. Caller disposes `grads`.
 */
export function shardGradients(
  policy: Policy,
  vars: readonly tf.Variable[],
  input: GradShardInput,
  cfg: PpoLossConfig,
  full: boolean,
): { grads: tf.Tensor[] } & GradShardHost {
  const { b, L } = input;
  const T = L - 1;
  const fixed = tf.tidy(() => ({
    ids: tf.tensor2d(input.inputIds, [b, L], 'int32'), // [b, L]
    am: tf.tensor2d(input.attentionMask, [b, L], 'int32'), // [b, L]
    oldLogprobs: tf.tensor2d(input.oldLogprobs, [b, T], 'float32'), // [b, T]
    oldValues: tf.tensor2d(input.oldValues, [b, T], 'float32'), // [b, T]
    advantages: tf.tensor2d(input.advantages, [b, T], 'float32'), // [b, T]
    returns: tf.tensor2d(input.returns, [b, T], 'float32'), // [b, T]
    mask: tf.tensor2d(input.mask, [b, T], 'float32'), // [b, T]
  }));
  const lossCfg: PpoLossConfig = { ...cfg, ratioThreshold: Infinity };
  let kept: tf.Tensor[] = [];
  const { value, grads } = tf.variableGrads(() => {
    let logprobs: tf.Tensor2D;
    let vpreds: tf.Tensor2D;
    let entropy: tf.Tensor2D;
    let logits: tf.Tensor3D | undefined;
    if (!full && policy.tokenStats) {
      const s = policy.tokenStats(fixed.ids, fixed.am, 'policy'); // [b, T] each
      ({ logprobs, entropy } = s);
      vpreds = s.values;
    } else {
      const out = policy.forward(fixed.ids, fixed.am, 'policy');
      logits = out.logits.slice([0, 0, 0], [-1, T, -1]) as tf.Tensor3D; // [b, T, V]
      logprobs = logprobsFromLogitsTf(logits, slice2(fixed.ids, [1, T]) as tf.Tensor2D); // [b, T]
      vpreds = slice2(out.values, [0, T]) as tf.Tensor2D; // [b, T]
      entropy = logitsEntropy(logits); // [b, T]
    }
    kept = [tf.keep(logprobs), tf.keep(vpreds), tf.keep(entropy)];
    const out = ppoLossTf(
      {
        logprobs,
        vpreds,
        oldLogprobs: fixed.oldLogprobs,
        oldValues: fixed.oldValues,
        advantages: fixed.advantages,
        returns: fixed.returns,
        mask: fixed.mask,
        normaliser: input.normaliser,
      },
      lossCfg,
    );
    return out.loss; // [] (the other outputs are tidied with the tape)
  }, vars as tf.Variable[]);
  const [logprobs, vpreds, entropy] = kept.map((t) => t.dataSync() as Float32Array);
  tf.dispose([value, ...kept, ...Object.values(fixed)]);
  return { grads: vars.map((v) => grads[v.name]!), logprobs: logprobs!, vpreds: vpreds!, entropy: entropy! };
}

/** Contiguous, near-equal shares of `n` rows over `ranks` ranks (earlier ranks take the remainder): `[start, count]` each. */
export function splitRows(n: number, ranks: number): [number, number][] {
  const base = Math.floor(n / ranks);
  const extra = n % ranks;
  const out: [number, number][] = [];
  let start = 0;
  for (let r = 0; r < ranks; r++) {
    const count = base + (r < extra ? 1 : 0);
    out.push([start, count]);
    start += count;
  }
  return out;
}
