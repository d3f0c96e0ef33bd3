/**
 * The decoder-only transformer forward shared by GPT-2, GPT-Neo, GPT-J, OPT and BLOOM, with architecture switches
 * from {@link TransformerConfig}:
 *
 * - GPT-2: fused c_attn [d, 3d] with bias, scores scaled by 1/sqrt(head_dim), every layer global.
 * - GPT-Neo: separate q/k/v projections without bias (fused here into one [d, 3d] product), out_proj with bias,
 *   NO score scaling, 'local' layers mask keys with q_idx - k_idx >= window_size (Hugging Face builds this mask
 *   as `tril(ones) ^ tril(ones, -window_size)` over sequence indices).
 * - GPT-J: separate q/k/v/out projections without bias, rotary position embeddings on the first `rotary_dim`
 *   features of every query and key head (pairs (2i, 2i+1) rotated by position·10000^(-2i/rotary_dim), Hugging
 *   Face's rotate_every_two), no learned positions, scores scaled by 1/sqrt(head_dim), and the parallel block
 *   x + attn(ln_1(x)) + mlp(ln_1(x)); the untied lm_head has a bias.
 * - OPT (opt.ts): q/k/v/out with biases, ReLU, learned positions at row p + 2, optional post-LN blocks
 *   ln_1(x + attn(x)) → ln_2(· + mlp(·)), optional project_in / project_out around the blocks.
 * - BLOOM (bloom.ts): ALiBi (slope_h · key position added to head h's scores; the attention bias is then per
 *   head, [B, H, T, Tk]), a LayerNorm on the token embedding, no position embeddings.
 * - Pre-LayerNorm blocks, learned positions (GPT-2, GPT-Neo), final LayerNorm; float32 throughout (attention
 *   included).
 * - Position ids come from the attention mask (cumsum(mask) - 1, clipped at 0) so left padding works; padded
 *   keys are masked. Disallowed scores get -1e9 added (finite: fully masked rows of pad queries stay NaN-free).
 *
 * Functions here are pure in their tensor inputs so a caller can wrap a block in tf.customGrad (recompute in
 * backward) or hand in weights expanded on the fly (packed frozen weights).
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, TransformerConfig } from './arch/hf-config.js';
import type { KVCache } from './kv-cache.js';
import { fusedCachedAttention, fusedGelu, fusedLayerNorm, fusedOpsAvailable, fusedSelfAttention } from './wasm/fused-ops.js';
import { fusedBlock } from './fused-block.js';
import type { AttentionContext, BlockWeights } from './block-types.js';
import { alibiSlopes } from './arch/bloom.js';

/** The block's weight and context types live in block-types.ts (fused-block.ts names them without importing this file). */

/** Value added to disallowed attention scores. */
export const MASKED_SCORE = -1e9;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The MLP activation. `gelu_new` is computed as x·sigmoid(2u), identical to 0.5x(1 + tanh(u)). */
export function activate(name: Activation, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': {
      const fused = fusedGelu(x); // same shape as x (wasm kernels)
      if (fused) return fused;
      const x3 = tf.mul(tf.mul(x, x), x); // same shape as x
      const u = tf.add(x, tf.mul(x3, 0.044715)); // same shape as x
      return tf.mul(x, tf.sigmoid(tf.mul(u, 2 * SQRT_2_OVER_PI))); // same shape as x
    }
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))); // same shape as x
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))); // same shape as x
    case 'relu':
      return tf.relu(x); // same shape as x
  }
}

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D {
  const fused = fusedLayerNorm(x, g, b, eps); // [N, d] (wasm kernels)
  if (fused) return fused;
  const mean = tf.mean(x, -1, true); // [N, 1]
  const xc = tf.sub(x, mean); // [N, d]
  const variance = tf.mean(tf.square(xc), -1, true); // [N, 1]
  const inv = tf.rsqrt(tf.add(variance, eps)); // [N, 1]
  return tf.add(tf.mul(tf.mul(xc, inv), g), b) as tf.Tensor2D; // [N, d]
}

/** x · W + b for 2-D x (the only shape the wasm fast GEMM path takes without reshaping). */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D; // [N, out]
}

/**
 * Position ids from the attention mask: cumsum(mask) - 1 clipped at 0, for the last `queryLen` positions.
 * @param mask [B, Tk] int32 (1 = token, 0 = padding) covering cached + new positions
 * @returns [B, T] int32
 */
export function positionIdsFromMask(mask: tf.Tensor2D, queryLen: number): tf.Tensor2D {
  const [, tk] = mask.shape;
  const c = tf.cumsum(tf.cast(mask, 'float32'), 1); // [B, Tk]
  const pos = tf.maximum(tf.sub(c, 1), 0); // [B, Tk]
  const last = queryLen === tk ? pos : tf.slice(pos, [0, tk - queryLen], [-1, queryLen]); // [B, T]
  return tf.cast(last, 'int32') as unknown as tf.Tensor2D; // [B, T]
}

/** Host-built [1, 1, T, Tk] additive mask of causal (and optionally windowed) visibility by sequence index. */
function causalBias(queryLen: number, keyLen: number, window: number | null): tf.Tensor4D | null {
  const offset = keyLen - queryLen; // query row i sits at sequence index offset + i
  let any = false;
  const data = new Float32Array(queryLen * keyLen);
  for (let i = 0; i < queryLen; i++) {
    const q = offset + i;
    for (let j = 0; j < keyLen; j++) {
      const ok = j <= q && (window === null || q - j < window);
      if (!ok) {
        data[i * keyLen + j] = MASKED_SCORE;
        any = true;
      }
    }
  }
  return any ? tf.tensor4d(data, [1, 1, queryLen, keyLen]) : null; // [1, 1, T, Tk]
}

/**
 * GPT-J's rotary tables for the given positions: angle(p, i) = p · 10000^(-2i/rotaryDim) for i < rotaryDim/2,
 * each repeated for the pair (2i, 2i+1); features past rotaryDim get cos 1 and sin 0 (they pass through).
 * @param positions [B, T] int32
 * @returns cos, sin: [B*T, 1, headDim] each
 */
function rotaryTables(positions: tf.Tensor2D, rotaryDim: number, headDim: number): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
  const n = positions.shape[0] * positions.shape[1];
  const half = rotaryDim / 2;
  const invFreq = tf.tensor2d(
    Float32Array.from({ length: half }, (_, i) => 1 / 10000 ** ((2 * i) / rotaryDim)),
    [1, half],
  ); // [1, rd/2]
  const angles = tf.matMul(tf.reshape(tf.cast(positions, 'float32'), [n, 1]), invFreq); // [N, rd/2]
  const table = (f: tf.Tensor2D, pass: number): tf.Tensor3D => {
    const pairs = tf.reshape(tf.stack([f, f], 2), [n, rotaryDim]); // [N, rd] (each angle twice: rotate_every_two)
    const full = rotaryDim === headDim ? pairs : tf.concat([pairs, tf.fill([n, headDim - rotaryDim], pass)], 1); // [N, hd]
    return tf.reshape(full, [n, 1, headDim]) as tf.Tensor3D; // [N, 1, hd]
  };
  return { cos: table(tf.cos(angles) as tf.Tensor2D, 1), sin: table(tf.sin(angles) as tf.Tensor2D, 0) };
}

/**
 * Rotates the query and key heads of a fused q|k|v activation (GPT-J's apply_rotary_pos_emb with rotate_every_two:
 * (x₂ᵢ, x₂ᵢ₊₁) → (x₂ᵢ·cos − x₂ᵢ₊₁·sin, x₂ᵢ₊₁·cos + x₂ᵢ·sin)); values are untouched.
 * @param qkv [N, 3d]
 * @returns [N, 3d]
 */
function applyRotary(qkv: tf.Tensor2D, rot: { cos: tf.Tensor3D; sin: tf.Tensor3D }, nHeads: number, headDim: number): tf.Tensor2D {
  const n = qkv.shape[0];
  const heads = tf.reshape(qkv, [n, 3 * nHeads, headDim]); // [N, 3H, hd]
  const qk = tf.slice(heads, [0, 0, 0], [n, 2 * nHeads, headDim]); // [N, 2H, hd]
  const v = tf.slice(heads, [0, 2 * nHeads, 0], [n, nHeads, headDim]); // [N, H, hd]
  const [even, odd] = tf.split(tf.reshape(qk, [n, 2 * nHeads, headDim / 2, 2]), 2, 3); // [N, 2H, hd/2, 1] each
  const swapped = tf.reshape(tf.concat([tf.neg(odd!), even!], 3), [n, 2 * nHeads, headDim]); // [N, 2H, hd]
  const rotated = tf.add(tf.mul(qk, rot.cos), tf.mul(swapped, rot.sin)); // [N, 2H, hd]
  return tf.reshape(tf.concat([rotated, v], 1), [n, 3 * nHeads * headDim]) as tf.Tensor2D; // [N, 3d]
}

/**
 * ALiBi biases (BLOOM's build_alibi_tensor): slope_h · (cumsum(mask) - 1) · mask for every key.
 * @param mask [B, Tk] int32
 * @returns [B, H, 1, Tk]
 */
function alibiBias(mask: tf.Tensor2D, nHeads: number): tf.Tensor4D {
  const [b, tk] = mask.shape;
  const m = tf.cast(mask, 'float32'); // [B, Tk]
  const keyPos = tf.mul(tf.sub(tf.cumsum(m, 1), 1), m); // [B, Tk]
  const slopes = tf.tensor4d(alibiSlopes(nHeads), [1, nHeads, 1, 1]); // [1, H, 1, 1]
  return tf.mul(slopes, tf.reshape(keyPos, [b, 1, 1, tk])) as tf.Tensor4D; // [B, H, 1, Tk]
}

/**
 * Builds the attention context for a forward over `queryLen` new positions.
 * @param mask [B, Tk] int32 attention mask over cached + new positions
 * @param positions [B, T] int32 position ids of the new positions (needed for rotary models)
 */
export function attentionContext(cfg: TransformerConfig, mask: tf.Tensor2D, queryLen: number, positions?: tf.Tensor2D): AttentionContext {
  const [batch, keyLen] = mask.shape;
  const keyBias = tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED_SCORE), [batch, 1, 1, keyLen]); // [B, 1, 1, Tk]
  const withCausal = (c: tf.Tensor4D | null): tf.Tensor4D => (c ? tf.add(keyBias, c) : keyBias) as tf.Tensor4D; // [B, 1, T, Tk] (or [B, 1, 1, Tk] when nothing is causally hidden)
  let globalBias = withCausal(causalBias(queryLen, keyLen, null));
  if (cfg.alibi) globalBias = tf.add(globalBias, alibiBias(mask, cfg.nHeads)) as tf.Tensor4D; // [B, H, T|1, Tk]
  const localBias = cfg.attentionTypes.includes('local') ? withCausal(causalBias(queryLen, keyLen, cfg.windowSize)) : undefined;
  if (cfg.rotaryDim === 0) return { batch, queryLen, keyLen, globalBias, localBias };
  if (!positions) throw new Error('attentionContext: a rotary model needs the position ids');
  return { batch, queryLen, keyLen, globalBias, localBias, rotary: rotaryTables(positions, cfg.rotaryDim, cfg.dModel / cfg.nHeads) };
}

/**
 * Token embeddings (position embeddings, where the architecture has them, are added by the caller).
 * @param ids [B, T] int32
 * @returns [B*T, dEmbed]
 */
export function embed(wte: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor2D {
  const [b, t] = ids.shape;
  return tf.gather(wte, tf.reshape(ids, [b * t])) as tf.Tensor2D; // [B*T, dEmbed]
}

/**
 * Multi-head self-attention of block `layer`.
 * @param h [B*T, d] normalised input
 * @param cache keys/values of earlier positions (extended with this call's positions)
 * @returns output [B*T, d]
 */
function attention(
  cfg: TransformerConfig,
  layer: number,
  w: BlockWeights,
  h: tf.Tensor2D,
  ctx: AttentionContext,
  cache?: KVCache,
): tf.Tensor2D {
  const { batch: b, queryLen: t, keyLen: tk } = ctx;
  const nh = cfg.nHeads;
  const hd = cfg.dModel / nh;
  const qkv0 = linear(h, w.qkvW, w.qkvB); // [B*T, 3d]
  const qkv = ctx.rotary ? applyRotary(qkv0, ctx.rotary, nh, hd) : qkv0; // [B*T, 3d]
  let scale = cfg.scaleAttention ? 1 / Math.sqrt(hd) : 1;
  if (cfg.scaleByInverseLayerIdx) scale /= layer + 1;
  const bias = cfg.attentionTypes[layer] === 'local' ? ctx.localBias! : ctx.globalBias; // [B, 1, T|1, Tk]
  const args = { batch: b, queryLen: t, keyLen: tk, nHeads: nh, headDim: hd, scale, bias };
  // The fused kernels take one bias per row (broadcast over heads); ALiBi's per-head biases run the composite ops.
  if (fusedOpsAvailable() && hd % 4 === 0 && bias.shape[1] === 1) {
    let merged: tf.Tensor2D | undefined;
    if (cache) {
      const past = cache.length;
      const bufs = cache.buffersFor(layer, b, past + t, cfg.dModel);
      merged = fusedCachedAttention(qkv, bufs.k, bufs.v, past, args); // [B*T, d]
    } else {
      merged = fusedSelfAttention(qkv, args); // [B*T, d]
    }
    if (merged) return linear(merged, w.outW, w.outB); // [B*T, d]
  }
  const heads = tf.transpose(tf.reshape(qkv, [b, t, 3 * nh, hd]), [0, 2, 1, 3]); // [B, 3H, T, hd]
  const [q0, kNew, vNew] = tf.split(heads, 3, 1) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]; // each [B, H, T, hd]
  const past = cache?.layers[layer];
  const k = past ? (tf.concat([past.k, kNew], 2) as tf.Tensor4D) : kNew; // [B, H, Tk, hd]
  const v = past ? (tf.concat([past.v, vNew], 2) as tf.Tensor4D) : vNew; // [B, H, Tk, hd]
  if (cache) cache.set(layer, { k, v });
  const q = scale === 1 ? q0 : tf.mul(q0, scale); // [B, H, T, hd]
  const scores = tf.matMul(q, k, false, true); // [B, H, T, Tk]
  const probs = tf.softmax(tf.add(scores, bias)); // [B, H, T, Tk]
  const ctxv = tf.matMul(probs, v); // [B, H, T, hd]
  const merged = tf.reshape(tf.transpose(ctxv, [0, 2, 1, 3]), [b * t, cfg.dModel]); // [B*T, d]
  return linear(merged as tf.Tensor2D, w.outW, w.outB); // [B*T, d]
}

/**
 * One pre-LayerNorm block: x + attn(ln1(x)), then + mlp(ln2(·)); GPT-J's parallel block x + attn(ln1(x)) + mlp(ln1(x));
 * OPT's post-LN block ln1(x + attn(x)), then ln2(· + mlp(·)).
 * @param x [B*T, d]
 * @param cache keys/values of earlier positions, extended in place
 * @returns [B*T, d]
 */
export function blockForward(
  cfg: TransformerConfig,
  layer: number,
  w: BlockWeights,
  x: tf.Tensor2D,
  ctx: AttentionContext,
  cache?: KVCache,
): tf.Tensor2D {
  const eps = cfg.layerNormEps;
  if (cfg.parallelResidual) {
    const h = layerNorm(x, w.ln1G, w.ln1B, eps); // [B*T, d]
    const a = attention(cfg, layer, w, h, ctx, cache); // [B*T, d]
    const f = activate(cfg.activation, linear(h, w.fcW, w.fcB)) as tf.Tensor2D; // [B*T, ff]
    return tf.add(tf.add(a, linear(f, w.projW, w.projB)), x) as tf.Tensor2D; // [B*T, d]
  }
  if (cfg.postLayerNorm) {
    const x1 = layerNorm(tf.add(x, attention(cfg, layer, w, x, ctx, cache)) as tf.Tensor2D, w.ln1G, w.ln1B, eps); // [B*T, d]
    const f = activate(cfg.activation, linear(x1, w.fcW, w.fcB)) as tf.Tensor2D; // [B*T, ff]
    return layerNorm(tf.add(x1, linear(f, w.projW, w.projB)) as tf.Tensor2D, w.ln2G!, w.ln2B!, eps); // [B*T, d]
  }
  if (!cache) {
    const fused = fusedBlock(cfg, layer, w, x, ctx); // [B*T, d] (wasm kernels, one op per block)
    if (fused) return fused;
  }
  const a = attention(cfg, layer, w, layerNorm(x, w.ln1G, w.ln1B, eps), ctx, cache); // [B*T, d]
  const x1 = tf.add(x, a) as tf.Tensor2D; // [B*T, d]
  const f = activate(cfg.activation, linear(layerNorm(x1, w.ln2G!, w.ln2B!, eps), w.fcW, w.fcB)) as tf.Tensor2D; // [B*T, ff]
  return tf.add(x1, linear(f, w.projW, w.projB)) as tf.Tensor2D; // [B*T, d]
}
