/**
 * Batched autoregressive generation with a KV cache: prompts left-padded into one batch, one prefill forward,
 * then one token per step. Sampling (temperature, top-k, top-p, greedy, EOS suppression before min_new_tokens)
 * runs on the host from the caller's RNG, so a seeded RNG reproduces a run exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm.js';
import type { GenerateOptions as PolicyGenerateOptions } from '../interfaces/policy.js';
import { KVCache } from './kv-cache.js';
import { FastDecoder, fastDecoderAvailable } from './decode.js';

/** Token-level input of {@link generate}. */
interface GenerateInput {
  /** Prompt token ids, one list per row (lengths may differ; rows are left-padded). */
  prompts: number[][];
  /** Token used for left padding and after a row has finished. */
  padTokenId: number;
  /** Token that ends a response (kept as its last token). */
  eosTokenId: number;
}

/** Sampling options of {@link generate}: the Policy contract's (Hugging Face generate semantics), plus the decoder. */
interface GenerateOptions extends PolicyGenerateOptions {
  /**
   * Forward implementation: 'fast' = direct SIMD kernels on preallocated buffers (wasm only), 'tensor' = the
   * model's tfjs forward with a KVCache; default: 'fast' when available.
   */
  decoder?: 'fast' | 'tensor';
}

/** Output of {@link generate}. */
interface GenerateOutput {
  /** New tokens per row, cut after the first EOS (which is kept). */
  responses: number[][];
}

function checkOptions(model: CausalLM, input: GenerateInput, opts: GenerateOptions): void {
  const V = model.config.vocabSize;
  if (!Array.isArray(input.prompts) || input.prompts.length === 0)
    throw new Error('generate: prompts must be a non-empty list of token lists');
  input.prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new Error(`generate: prompts[${i}] is empty; every prompt needs at least one token`);
    for (const t of p) {
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new Error(`generate: prompts[${i}] holds token ${t}, outside [0, ${V})`);
    }
  });
  for (const [k, v] of [
    ['padTokenId', input.padTokenId],
    ['eosTokenId', input.eosTokenId],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new Error(`generate: ${k} ${v} is outside [0, ${V})`);
  }
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 1)
    throw new Error(`generate: maxNewTokens must be an integer ≥ 1, got ${opts.maxNewTokens}`);
  const minNew = opts.minNewTokens ?? 0;
  if (!Number.isInteger(minNew) || minNew < 0 || minNew > opts.maxNewTokens) {
    throw new Error(`generate: minNewTokens must be an integer in [0, maxNewTokens=${opts.maxNewTokens}], got ${minNew}`);
  }
  if (opts.temperature !== undefined && !(opts.temperature > 0))
    throw new Error(`generate: temperature must be > 0, got ${opts.temperature}`);
  if (opts.topK !== undefined && (!Number.isInteger(opts.topK) || opts.topK < 0))
    throw new Error(`generate: topK must be an integer ≥ 0, got ${opts.topK}`);
  if (opts.topP !== undefined && !(opts.topP > 0 && opts.topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${opts.topP}`);
  if (!opts.rng || typeof opts.rng.next !== 'function') throw new Error('generate: rng must be an object with next(): number in [0, 1)');
  const longest = Math.max(...input.prompts.map((p) => p.length));
  if (longest + opts.maxNewTokens > model.config.nPositions) {
    throw new Error(
      `generate: longest prompt (${longest}) + maxNewTokens (${opts.maxNewTokens}) exceeds the model's n_positions ${model.config.nPositions}`,
    );
  }
}

/**
 * Picks the next token of one row from its logits (Hugging Face order: min-new-tokens EOS suppression,
 * temperature, top-k, top-p, then sampling). Exported for tests.
 * @param logits the row's logits [V]
 * @param suppress token to forbid (EOS before min_new_tokens), or -1
 */
export function pickToken(
  logits: Float32Array,
  suppress: number,
  opts: Omit<GenerateOptions, 'maxNewTokens'>,
  scratch?: Float64Array,
): number {
  const V = logits.length;
  const s = scratch && scratch.length >= V ? scratch : new Float64Array(V);
  for (let i = 0; i < V; i++) s[i] = logits[i]!;
  if (suppress >= 0) s[suppress] = -Infinity;
  if (opts.greedy) {
    let best = 0;
    for (let i = 1; i < V; i++) if (s[i]! > s[best]!) best = i;
    return best;
  }
  const temp = opts.temperature ?? 1;
  const k = opts.topK ?? 0;
  if (!(k > 0 && k < V) && (opts.topP ?? 1) >= 1) {
    // Plain sampling: one pass for the max, one for exp and the total, then the inverse CDF on the total.
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (s[i]! > max) max = s[i]!;
    const inv = 1 / temp;
    let total = 0;
    for (let i = 0; i < V; i++) {
      const e = s[i] === -Infinity ? 0 : Math.exp((s[i]! - max) * inv);
      s[i] = e;
      total += e;
    }
    const target = opts.rng.next() * total;
    let acc = 0;
    let lastMass = -1;
    for (let i = 0; i < V; i++) {
      if (s[i]! <= 0) continue;
      acc += s[i]!;
      lastMass = i;
      if (target < acc) return i;
    }
    return lastMass;
  }
  if (temp !== 1) for (let i = 0; i < V; i++) s[i] = s[i]! / temp;
  if (k > 0 && k < V) {
    // Threshold = k-th largest score; scores below it are removed (ties at the threshold stay, as in HF).
    const thr = kthLargest(s, V, k);
    for (let i = 0; i < V; i++) if (s[i]! < thr) s[i] = -Infinity;
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (s[i]! > max) max = s[i]!;
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const e = s[i] === -Infinity ? 0 : Math.exp(s[i]! - max);
    s[i] = e;
    sum += e;
  }
  for (let i = 0; i < V; i++) s[i] = s[i]! / sum;
  const p = opts.topP ?? 1;
  if (p < 1) {
    // HF TopPLogitsWarper: sort ascending, drop tokens whose cumulative probability is <= 1 - p (keep ≥ 1).
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => s[a]! - s[b]!);
    let cum = 0;
    for (let r = 0; r < V - 1; r++) {
      const i = order[r]!;
      cum += s[i]!;
      if (cum <= 1 - p) s[i] = 0;
      else break;
    }
    let kept = 0;
    for (let i = 0; i < V; i++) kept += s[i]!;
    for (let i = 0; i < V; i++) s[i] = s[i]! / kept;
  }
  const u = opts.rng.next();
  let acc = 0;
  let last = -1;
  for (let i = 0; i < V; i++) {
    if (s[i]! <= 0) continue;
    acc += s[i]!;
    last = i;
    if (u < acc) return i;
  }
  return last; // u ≥ the accumulated total by rounding: the last token with mass
}

/**
 * The k-th largest of s[0..n) counting repeats (what a descending sort puts at index k − 1), for 1 ≤ k ≤ n: a
 * min-heap of the k largest seen, O(n log k) with no comparator calls.
 */
export function kthLargest(s: ArrayLike<number>, n: number, k: number): number {
  const heap = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    // Sift up.
    let j = i;
    const x = s[i]!;
    while (j > 0) {
      const parent = (j - 1) >> 1;
      if (heap[parent]! <= x) break;
      heap[j] = heap[parent]!;
      j = parent;
    }
    heap[j] = x;
  }
  for (let i = k; i < n; i++) {
    const x = s[i]!;
    if (!(x > heap[0]!)) continue;
    // Replace the minimum and sift down.
    let j = 0;
    for (;;) {
      const l = 2 * j + 1;
      if (l >= k) break;
      const r = l + 1;
      const c = r < k && heap[r]! < heap[l]! ? r : l;
      if (heap[c]! >= x) break;
      heap[j] = heap[c]!;
      j = c;
    }
    heap[j] = x;
  }
  return heap[0]!;
}

/** One forward per call: logits of each row's last new position, [B * V] on the host. */
interface StepRunner {
  run(ids: Int32Array, mask: Int32Array, t: number): Promise<Float32Array>;
  dispose(): void;
}

function tensorRunner(model: CausalLM, B: number, maxLen: number): StepRunner {
  const cache = new KVCache(model.config.nLayers, { capacity: maxLen });
  const V = model.config.vocabSize;
  return {
    async run(ids, mask, t) {
      const logitsT = tf.tidy(() => {
        const h = model.hiddenStates(tf.tensor2d(ids, [B, t], 'int32'), tf.tensor2d(mask, [B, mask.length / B], 'int32'), { cache }); // [B, t, d]
        const last = t === 1 ? h : tf.slice(h, [0, t - 1, 0], [-1, 1, -1]); // [B, 1, d]
        return tf.reshape(model.lmHead(last), [B, V]); // [B, V]
      });
      const logits = (await logitsT.data()) as Float32Array;
      logitsT.dispose();
      return logits;
    },
    dispose: () => cache.dispose(),
  };
}

function fastRunner(model: CausalLM, B: number, promptLen: number, maxLen: number): StepRunner {
  const dec = new FastDecoder(model, B, promptLen, maxLen);
  return { run: async (ids, mask, t) => dec.forward(ids, mask, t), dispose: () => dec.dispose() };
}

/**
 * Generates continuations for a batch of prompts.
 * @returns per row the new tokens, cut after the first EOS (kept)
 */
export async function generate(model: CausalLM, input: GenerateInput, opts: GenerateOptions): Promise<GenerateOutput> {
  checkOptions(model, input, opts);
  const B = input.prompts.length;
  const L = Math.max(...input.prompts.map((p) => p.length));
  const V = model.config.vocabSize;
  const maxLen = L + opts.maxNewTokens;
  const ids = new Int32Array(B * L).fill(input.padTokenId);
  const mask = new Int32Array(B * maxLen);
  input.prompts.forEach((p, b) => {
    const off = L - p.length;
    for (let j = 0; j < p.length; j++) {
      ids[b * L + off + j] = p[j]!;
      mask[b * maxLen + off + j] = 1;
    }
  });
  const responses: number[][] = Array.from({ length: B }, () => []);
  const finished = new Array<boolean>(B).fill(false);
  const scratch = new Float64Array(V);
  const minNew = opts.minNewTokens ?? 0;
  const useFast = opts.decoder === 'fast' || (opts.decoder !== 'tensor' && fastDecoderAvailable(model));
  if (opts.decoder === 'fast' && !fastDecoderAvailable(model)) {
    throw new Error("generate: decoder 'fast' needs the wasm backend with its SIMD kernels (and head_dim % 4 == 0)");
  }
  const runner = useFast ? fastRunner(model, B, L, maxLen) : tensorRunner(model, B, maxLen);
  try {
    let stepIds: Int32Array = ids;
    let t = L;
    let seen = L;
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const maskNow = new Int32Array(B * seen);
      for (let b = 0; b < B; b++) maskNow.set(mask.subarray(b * maxLen, b * maxLen + seen), b * seen);
      const logits = await runner.run(stepIds, maskNow, t);
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        if (finished[b]) {
          next[b] = input.padTokenId;
          continue;
        }
        const tok = pickToken(logits.subarray(b * V, (b + 1) * V), step < minNew ? input.eosTokenId : -1, opts, scratch);
        next[b] = tok;
        responses[b]!.push(tok);
        if (tok === input.eosTokenId) finished[b] = true;
      }
      for (let b = 0; b < B; b++) mask[b * maxLen + seen] = 1;
      seen += 1;
      if (finished.every(Boolean) || step === opts.maxNewTokens - 1) break;
      stepIds = next;
      t = 1;
    }
  } finally {
    runner.dispose();
  }
  return { responses };
}
