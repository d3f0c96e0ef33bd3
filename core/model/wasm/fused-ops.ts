/**
 * Differentiable fused ops for the transformer on the wasm backend (kernels of fused.ts / simd.ts,
 * gradients through tf.customGrad). Each op has the same math as its composite counterpart in transformer.ts,
 * which the model uses on other backends or when {@link fusedOpsAvailable} is false.
 */
import * as tf from '@tensorflow/tfjs';
import { allocOutput, heapOffset, type WasmBackendLike } from './kernels.js';
import { kernelScratch, wasmKernels, type KernelExports } from './simd.js';

/** The wasm backend with its kernel module, when the active backend can run fused ops. */
export function activeKernels(): { backend: WasmBackendLike; k: KernelExports } | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const k = wasmKernels(backend);
  return k ? { backend, k } : undefined;
}

/** True when the active backend runs the fused kernels. */
export function fusedOpsAvailable(): boolean {
  return activeKernels() !== undefined;
}

/** True when every tensor's data lives on this wasm backend's heap (not on another backend awaiting a move). */
export function onHeap(backend: WasmBackendLike, ...ts: tf.Tensor[]): boolean {
  const map = backend.dataIdMap as unknown as { has(id: object): boolean };
  return ts.every((t) => map.has(t.dataId) && t.dtype === 'float32');
}

/** A new float32 tensor on the heap (tracked by the current tf scope) and its byte offset. */
export function newTensor(backend: WasmBackendLike, shape: number[], what: string): { t: tf.Tensor; off: number } {
  const info = allocOutput(backend, shape, 'float32', what);
  return { t: tf.engine().makeTensorFromTensorInfo(info), off: heapOffset(backend, info) };
}

const off = (backend: WasmBackendLike, t: tf.Tensor) => heapOffset(backend, t);

type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
type ForwardFn = (...args: [tf.Tensor, ...(tf.Tensor | tf.GradSaveFunc)[]]) => { value: tf.Tensor; gradFunc: GradFn };

/** tf.customGrad with the forward's parameters typed as the op's inputs followed by the save function. */
export function customOp<F>(f: F): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as unknown as ForwardFn as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: tf.Tensor[]) => tf.Tensor;
}

function heapF32(backend: WasmBackendLike): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer);
}

// ---------------------------------------------------------------------------------------------- layer norm ---

/**
 * LayerNorm over the last axis of a 2-D tensor (fused forward and backward), or undefined when the fused path
 * does not apply (caller uses the composite op).
 * @param x [N, d] (d % 4 == 0)
 */
export function fusedLayerNorm(x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number): tf.Tensor2D | undefined {
  const env = activeKernels();
  const [n, d] = x.shape;
  if (!env || d % 4 !== 0 || !onHeap(env.backend, x, g, b)) return undefined;
  const { backend, k } = env;
  const op = customOp((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = newTensor(backend, [n, d], 'layerNorm'); // [N, d]
    const stats = newTensor(backend, [n, 2], 'layerNorm stats'); // [N, 2] (mean, rstd)
    k.layernorm_fwd(off(backend, xi), off(backend, gi), off(backend, bi), y.off, stats.off, n, d, eps);
    save([xi, gi, stats.t]);
    return {
      value: y.t,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, st] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dyc = onHeap(backend, dy) ? dy : tf.add(dy, 0); // [N, d]
        const dx = newTensor(backend, [n, d], 'layerNorm grad'); // [N, d]
        const dg = newTensor(backend, [d], 'layerNorm grad'); // [d]
        const db = newTensor(backend, [d], 'layerNorm grad'); // [d]
        k.layernorm_bwd(off(backend, xs), off(backend, gs), off(backend, dyc), off(backend, st), dx.off, dg.off, db.off, n, d);
        return [dx.t, dg.t, db.t];
      },
    };
  });
  return op(x, g, b) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------------- gelu ---

/** gelu_new (tanh approximation) fused forward and backward, or undefined when not applicable. */
export function fusedGelu(x: tf.Tensor): tf.Tensor | undefined {
  const env = activeKernels();
  if (!env || !onHeap(env.backend, x)) return undefined;
  const { backend, k } = env;
  const op = customOp((xi: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = newTensor(backend, xi.shape, 'gelu'); // same shape as x
    k.gelu_fwd(off(backend, xi), y.off, xi.size);
    save([xi]);
    return {
      value: y.t,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const dyc = onHeap(backend, dy) ? dy : tf.add(dy, 0);
        const dx = newTensor(backend, xs.shape, 'gelu grad'); // same shape as x
        k.gelu_bwd(off(backend, xs), off(backend, dyc), dx.off, xs.size);
        return [dx.t];
      },
    };
  });
  return op(x);
}

// ----------------------------------------------------------------------------------------------- attention ---

/** Geometry of one fused attention call. */
interface FusedAttentionArgs {
  batch: number;
  /** New positions. */
  queryLen: number;
  /** Key positions (cached + new). */
  keyLen: number;
  nHeads: number;
  headDim: number;
  scale: number;
  /** Additive mask [B, 1, T, Tk] or [B, 1, 1, Tk]. */
  bias: tf.Tensor;
}

function biasStrides(bias: tf.Tensor, queryLen: number, keyLen: number): { ldRow: number; ldBatch: number } {
  const perRow = bias.shape[2] === queryLen && queryLen > 1;
  return { ldRow: perRow ? keyLen : 0, ldBatch: (bias.shape[2] ?? 1) * keyLen };
}

/** Heap geometry of an uncached attention over a fused q|k|v buffer. */
interface RawAttention {
  B: number; T: number; H: number; hd: number; scale: number;
  /** Heap offset of the additive mask and its row / batch strides (elements). */
  bias: number; ldRow: number; ldBatch: number;
}

/**
 * Attention forward on heap buffers: probs [B, H, T, T] and out [B*T, d] (heads merged) from qkv [B*T, 3d].
 */
export function attentionForwardRaw(backend: WasmBackendLike, k: KernelExports, g: RawAttention, qkv: number, probs: number, out: number): void {
  const { B, T, H, hd, scale } = g;
  const d = H * hd;
  const d3 = 3 * d;
  const pack = kernelScratch(backend, Math.max(16, (T & ~3) * T * 4), 'pack');
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const p = probs + 4 * ((b * H + h) * T * T);
      const q = qkv + 4 * (b * T * d3 + h * hd);
      k.gemm_nt(q, q + 4 * d, p, 0, T, hd, T, d3, d3, T); // scores [T, T]
      k.softmax_rows(p, p, T, T, T, T, scale, g.bias + 4 * b * g.ldBatch, g.ldRow);
      k.gemm(p, q + 8 * d, out + 4 * (b * T * d + h * hd), 0, T, T, hd, T, 1, d3, d, pack, hd, 0, 0, 0); // [T, hd]
    }
  }
}

/**
 * Attention backward on heap buffers: dqkv [B*T, 3d] (every element written) from dOut [B*T, d], the saved
 * qkv and probabilities.
 */
export function attentionBackwardRaw(backend: WasmBackendLike, k: KernelExports, g: RawAttention, qkv: number, probs: number, dOut: number, dqkv: number): void {
  const { B, T, H, hd, scale } = g;
  const d = H * hd;
  const d3 = 3 * d;
  const work = kernelScratch(backend, T * T * 4, 'work');
  const pk = kernelScratch(backend, Math.max(16, (T & ~3) * T * 4), 'pack');
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const p = probs + 4 * ((b * H + h) * T * T);
      const q = qkv + 4 * (b * T * d3 + h * hd);
      const dO = dOut + 4 * (b * T * d + h * hd);
      const dq = dqkv + 4 * (b * T * d3 + h * hd);
      k.gemm(p, dO, dq + 8 * d, 0, T, T, hd, 1, T, d, d3, pk, hd, 0, 0, 0); // dV = Pᵀ·dO [T, hd]
      k.gemm_nt(dO, q + 8 * d, work, 0, T, hd, T, d, d3, T); // dP = dO·Vᵀ [T, T]
      k.softmax_bwd_rows(p, work, work, T, T, T, T, T, scale); // dS (scaled) [T, T]
      k.gemm(work, q + 4 * d, dq, 0, T, T, hd, T, 1, d3, d3, pk, hd, 0, 0, 0); // dQ = dS·K [T, hd]
      k.gemm(work, q, dq + 4 * d, 0, T, T, hd, 1, T, d3, d3, pk, hd, 0, 0, 0); // dK = dSᵀ·Q [T, hd]
    }
  }
}

/** Raw geometry for an attention call (undefined when the mask is not on the heap). */
export function rawAttention(backend: WasmBackendLike, a: FusedAttentionArgs): RawAttention {
  const { ldRow, ldBatch } = biasStrides(a.bias, a.queryLen, a.keyLen);
  return { B: a.batch, T: a.queryLen, H: a.nHeads, hd: a.headDim, scale: a.scale, bias: off(backend, a.bias), ldRow, ldBatch };
}

/**
 * Causal self-attention on a fused q|k|v projection without a cache (training and full forwards), fused forward
 * and backward; output with heads merged. Undefined when not applicable.
 * @param qkv [B*T, 3d] (q | k | v, heads contiguous within each)
 * @returns [B*T, d]
 */
export function fusedSelfAttention(qkv: tf.Tensor2D, a: FusedAttentionArgs): tf.Tensor2D | undefined {
  const env = activeKernels();
  const { batch: B, queryLen: T, keyLen: Tk, nHeads: H, headDim: hd } = a;
  if (!env || T !== Tk || hd % 4 !== 0 || !onHeap(env.backend, qkv, a.bias)) return undefined;
  const { backend, k } = env;
  const d = H * hd;
  const biasT = a.bias;
  const op = customOp((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const g = rawAttention(backend, { ...a, bias: biasT });
    const probs = newTensor(backend, [B, H, T, Tk], 'attention probabilities'); // [B, H, T, Tk]
    const out = newTensor(backend, [B * T, d], 'attention output'); // [B*T, d]
    attentionForwardRaw(backend, k, g, off(backend, x), probs.off, out.off);
    save([x, probs.t]);
    return {
      value: out.t,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ps] = saved as [tf.Tensor, tf.Tensor];
        const dyc = onHeap(backend, dy) ? dy : tf.add(dy, 0); // [B*T, d]
        const dx = newTensor(backend, [B * T, 3 * d], 'attention grad'); // [B*T, 3d]
        attentionBackwardRaw(backend, k, g, off(backend, xs), off(backend, ps), off(backend, dyc), dx.off);
        return [dx.t];
      },
    };
  });
  return op(qkv) as tf.Tensor2D;
}

/**
 * Attention of new positions against a key/value buffer (incremental decoding; no gradient).
 * The new keys/values are written into the buffers at rows [past, past + T) first.
 * @param qkv [B*T, 3d]
 * @param kBuf [B, cap, d] key buffer (mutated in place; owned by the cache)
 * @param vBuf [B, cap, d] value buffer (mutated in place)
 * @param past positions already in the buffers
 * @returns [B*T, d]
 */
export function fusedCachedAttention(qkv: tf.Tensor2D, kBuf: tf.Tensor, vBuf: tf.Tensor, past: number, a: FusedAttentionArgs): tf.Tensor2D | undefined {
  const env = activeKernels();
  const { batch: B, queryLen: T, keyLen: Tk, nHeads: H, headDim: hd, scale } = a;
  if (!env || Tk !== past + T || hd % 4 !== 0 || !onHeap(env.backend, qkv, a.bias, kBuf, vBuf)) return undefined;
  const { backend, k } = env;
  const d = H * hd;
  const d3 = 3 * d;
  const cap = kBuf.shape[1]!;
  const qo = off(backend, qkv);
  const ko = off(backend, kBuf);
  const vo = off(backend, vBuf);
  const heap = heapF32(backend);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (qo >> 2) + (b * T + t) * d3;
      const dst = (b * cap + past + t) * d;
      heap.copyWithin((ko >> 2) + dst, src + d, src + 2 * d);
      heap.copyWithin((vo >> 2) + dst, src + 2 * d, src + 3 * d);
    }
  }
  const { ldRow, ldBatch } = biasStrides(a.bias, T, Tk);
  const bo = off(backend, a.bias);
  const out = newTensor(backend, [B * T, d], 'attention output'); // [B*T, d]
  const work = kernelScratch(backend, T * Tk * 4, 'work');
  const pack = kernelScratch(backend, Math.max(16, (T & ~3) * Tk * 4), 'pack');
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const q = qo + 4 * (b * T * d3 + h * hd);
      const kb = ko + 4 * (b * cap * d + h * hd);
      const vb = vo + 4 * (b * cap * d + h * hd);
      k.gemm_nt(q, kb, work, 0, T, hd, Tk, d3, d, Tk); // scores [T, Tk]
      k.softmax_rows(work, work, T, Tk, Tk, Tk, scale, bo + 4 * b * ldBatch, ldRow);
      k.gemm(work, vb, out.off + 4 * (b * T * d + h * hd), 0, T, Tk, hd, Tk, 1, d, d, pack, hd, 0, 0, 0); // [T, hd]
    }
  }
  return out.t as tf.Tensor2D;
}

// ------------------------------------------------------------------------------------------ token log-probs ---

/**
 * log softmax(logits)[target] per row, fused (row max / Σexp in SIMD, gradient softmax − onehot), or undefined.
 * @param logits [N, V]
 * @param targets [N] int32
 * @returns [N]
 */
export function fusedLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D | undefined {
  const env = activeKernels();
  if (!env || !onHeap(env.backend, logits)) return undefined;
  const { backend, k } = env;
  const [n, V] = logits.shape;
  const tgt = targets.dataSync() as Int32Array;
  for (let i = 0; i < n; i++) {
    if (tgt[i]! < 0 || tgt[i]! >= V) throw new Error(`tokenLogProbs: target ${tgt[i]} at row ${i} is outside [0, ${V})`);
  }
  const op = customOp((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const stats = kernelScratch(backend, n * 8, 'work');
    const xo = off(backend, x);
    k.row_max_sumexp(xo, n, V, stats);
    let heap = heapF32(backend);
    const lse = new Float32Array(n);
    const logp = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      lse[i] = heap[(stats >> 2) + 2 * i]! + Math.log(heap[(stats >> 2) + 2 * i + 1]!);
      logp[i] = heap[(xo >> 2) + i * V + tgt[i]!]! - lse[i]!;
    }
    save([x]);
    return {
      value: tf.tensor1d(logp),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const g = dy.dataSync() as Float32Array;
        const dx = newTensor(backend, [n, V], 'log-prob grad'); // [N, V]
        const buf = kernelScratch(backend, n * 8, 'work');
        heap = heapF32(backend);
        for (let i = 0; i < n; i++) {
          heap[(buf >> 2) + i] = lse[i]!;
          heap[(buf >> 2) + n + i] = -g[i]!;
        }
        k.rows_scaled_exp(off(backend, xs), buf, buf + 4 * n, dx.off, n, V);
        heap = heapF32(backend);
        for (let i = 0; i < n; i++) heap[(dx.off >> 2) + i * V + tgt[i]!] += g[i]!;
        return [dx.t];
      },
    };
  });
  return op(logits) as tf.Tensor1D;
}
