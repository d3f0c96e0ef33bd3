/**
 * Inference-only forward for generation on the wasm backend: the whole transformer step runs as direct calls
 * into the SIMD kernels on preallocated heap buffers (no tfjs op per layer, no tensor per step), with the
 * key/value cache written in place. Same math as transformer.ts (checked against it by the tests); used by
 * generate() when the wasm kernels are available.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm.js';
import { MASKED_SCORE } from './transformer.js';
import { blockWeightNames, BASE_PREFIX } from './arch/weight-names.js';
import { allocOutput, heapOffset, wasmOomMessage, type WasmBackendLike } from './wasm/kernels.js';
import { gemmPanel, PACK_B_MIN_ROWS, wasmKernels, type KernelExports } from './wasm/simd.js';
import { activeNativeBlas, nativeMinMacs } from './wasm/native-matmul.js';

/**
 * A weight matrix [K, N]: row-major original and, once a short product on the SIMD GEMM first needs it, a copy in
 * the GEMM's packed-B layout (0 until then; products on the native sgemm never need it).
 */
interface Mat {
  w: number;
  panels: number;
}

interface LayerPtrs {
  ln1G: number;
  ln1B: number;
  qkvW: Mat;
  qkvB: number;
  outW: Mat;
  outB: number;
  ln2G: number;
  ln2B: number;
  fcW: Mat;
  fcB: number;
  projW: Mat;
  projB: number;
  k: number;
  v: number;
  local: boolean;
}

/** True when {@link FastDecoder} can run this model on the active backend. */
export function fastDecoderAvailable(model: CausalLM): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const backend = tf.backend() as unknown as WasmBackendLike;
  const c = model.config;
  const hd = c.dModel / c.nHeads;
  const act = c.activation === 'gelu_new' || c.activation === 'gelu_pytorch_tanh' || c.activation === 'gelu_fast';
  // The fused decoder implements the sequential pre-LN block with learned positions (GPT-2, GPT-Neo), not GPT-J's,
  // OPT's or BLOOM's.
  if (c.modelType !== 'gpt2' && c.modelType !== 'gpt_neo') return false;
  if (c.parallelResidual || c.rotaryDim !== 0 || c.lmHeadBias) return false;
  return !!wasmKernels(backend) && hd % 4 === 0 && c.dModel % 4 === 0 && c.dInner % 4 === 0 && act;
}

/**
 * Runs prefill and decode steps for a fixed batch.
 * Create, call {@link prefill} once and {@link step} per token, then {@link dispose}.
 */
export class FastDecoder {
  private readonly backend: WasmBackendLike;
  private readonly k: KernelExports;
  private readonly owned: tf.Tensor[] = [];
  private readonly layers: LayerPtrs[] = [];
  private readonly wte: number;
  private readonly wpe: number;
  private readonly lnfG: number;
  private readonly lnfB: number;
  /** The output embedding transposed to [d, V] (weights are fixed during generation). */
  private head: Mat = { w: 0, panels: 0 };
  private length = 0;
  /** Vocabulary rounded up to a multiple of 8 (columns of the padded head). */
  private readonly vocabPadded: number;
  private readonly bufs: Record<string, number> = {};
  /** Allocates a kept heap buffer of n floats (zeroed unless fill is false); set by the constructor. */
  private readonly buffer: (n: number, fill?: boolean) => number;
  private disposed = false;

  /**
   * @param batch rows decoded together
   * @param maxRows largest number of positions per row in one call (the prompt length)
   * @param capacity total positions per row (prompt + new tokens)
   */
  constructor(
    private readonly model: CausalLM,
    readonly batch: number,
    maxRows: number,
    readonly capacity: number,
  ) {
    if (!fastDecoderAvailable(model)) throw new Error('FastDecoder: needs the wasm backend with its SIMD kernels and head_dim % 4 == 0');
    this.backend = tf.backend() as unknown as WasmBackendLike;
    this.k = wasmKernels(this.backend)!;
    const cfg = model.config;
    this.vocabPadded = cfg.vocabSize + ((8 - (cfg.vocabSize % 8)) % 8);
    const d = cfg.dModel;
    const named = model.namedWeights();
    const ptr = (name: string) => heapOffset(this.backend, named.get(name)!);
    this.wte = ptr(`${BASE_PREFIX}wte.weight`);
    this.wpe = ptr(`${BASE_PREFIX}wpe.weight`);
    this.lnfG = ptr(`${BASE_PREFIX}ln_f.weight`);
    this.lnfB = ptr(`${BASE_PREFIX}ln_f.bias`);
    const keep = (t: tf.Tensor) => {
      this.owned.push(tf.keep(t));
      return heapOffset(this.backend, t);
    };
    /** A heap buffer of n floats, zeroed unless `fill` is false (then every value is written before it is read). */
    const buffer = (n: number, fill = true): number => {
      const info = allocOutput(this.backend, [n], 'float32', 'decoder buffer');
      const at = keep(tf.engine().makeTensorFromTensorInfo(info));
      if (fill) new Float32Array(this.backend.wasm.HEAPU8.buffer, at, n).fill(0);
      return at;
    };
    this.buffer = buffer;
    const mat = (w: number): Mat => ({ w, panels: 0 });
    try {
      for (let i = 0; i < cfg.nLayers; i++) {
        const n = blockWeightNames(cfg, i);
        const qkvW = mat(n.qkvW ? ptr(n.qkvW) : keep(tf.tidy(() => model.blockWeights(i).qkvW.clone())));
        const qkvB = n.qkvB ? ptr(n.qkvB) : buffer(3 * d);
        this.layers.push({
          ln1G: ptr(n.ln1G),
          ln1B: ptr(n.ln1B),
          qkvW,
          qkvB,
          outW: mat(ptr(n.outW)),
          outB: ptr(n.outB!),
          ln2G: ptr(n.ln2G!),
          ln2B: ptr(n.ln2B!),
          fcW: mat(ptr(n.fcW)),
          fcB: ptr(n.fcB!),
          projW: mat(ptr(n.projW)),
          projB: ptr(n.projB!),
          k: buffer(batch * capacity * d),
          v: buffer(batch * capacity * d),
          local: cfg.attentionTypes[i] === 'local',
        });
      }
      // [d, Vp]: transposed, zero-padded to a multiple of 8 columns (the packed layout needs n % 4 == 0).
      this.head = mat(
        keep(
          tf.tidy(() =>
            tf.pad(tf.transpose(model.outputEmbedding()), [
              [0, 0],
              [0, this.vocabPadded - cfg.vocabSize],
            ]),
          ),
        ),
      );
      const R = batch * maxRows;
      const sizes: Record<string, number> = {
        x: R * d,
        h: R * d,
        qkv: R * 3 * d,
        att: R * d,
        f: R * cfg.dInner,
        stats: R * 2,
        logits: batch * this.vocabPadded,
        work: maxRows * capacity,
        bias: batch * maxRows * capacity,
        biasLocal: batch * maxRows * capacity,
      };
      for (const [name, n] of Object.entries(sizes)) this.bufs[name] = buffer(Math.max(4, n));
      // Packed A (rows × inner) plus one packed B panel (≤ 32768 floats, or 8 columns × inner).
      const packElems = Math.max(R, capacity) * Math.max(cfg.dInner, capacity, d) + Math.max(32768, 8 * Math.max(cfg.dInner, d)) + 64;
      this.bufs.pack = buffer(packElems, false); // scratch: written before read
    } catch (e) {
      this.dispose();
      if (/memory|allocat/i.test(String(e))) throw new Error(wasmOomMessage(`decoder buffers for batch ${batch} × ${capacity} positions`));
      throw e;
    }
  }

  private heap(): Float32Array {
    return new Float32Array(this.backend.wasm.HEAPU8.buffer);
  }

  /**
   * C[m, n] = A[m, kk] · W[kk, n] + bias (+ C when accumulate): the native sgemm when selected, else the SIMD GEMM
   * with packed panels for tall A and the pre-packed weights for short A.
   */
  private linear(a: number, w: Mat, bias: number, c: number, m: number, kk: number, n: number, accumulate: boolean): void {
    const blas = activeNativeBlas();
    if (blas && m * n * kk >= nativeMinMacs()) {
      // The native matmul when it is selected (as every other product of the engine: native-matmul.ts).
      blas.sgemmHeap(
        this.backend.wasm.HEAPU8.buffer as ArrayBuffer,
        false,
        false,
        m,
        n,
        kk,
        a,
        kk,
        0,
        w.w,
        n,
        0,
        c,
        n,
        0,
        1,
        bias ? bias : -1,
        accumulate,
      );
      return;
    }
    const nb = gemmPanel(kk, n);
    const pack = this.bufs.pack!;
    const acc = accumulate ? 1 : 0;
    if (m >= PACK_B_MIN_ROWS) {
      this.k.gemm(a, w.w, c, bias, m, kk, n, kk, 1, n, n, pack, nb, pack + 4 * ((m & ~3) * kk), 0, acc);
      return;
    }
    // Short A (decode steps): weights pre-packed as one panel of all n columns (packed on first use; the
    // allocation may grow the heap, which forward() allows for by taking fresh views after each linear()).
    if (!w.panels) {
      w.panels = this.buffer(kk * n, false); // pack_panels writes all of it
      this.k.pack_panels(w.w, w.panels, kk, n);
    }
    this.k.gemm(a, w.w, c, bias, m, kk, n, kk, 1, n, n, pack, n + ((8 - (n % 8)) % 8), w.panels, 2, acc);
  }

  /**
   * Runs `t` new positions per row and returns the logits of each row's last new position ([B * V], a copy).
   * @param ids [B * t] token ids
   * @param mask [B * (past + t)] attention mask over all positions so far (1 token, 0 padding)
   */
  forward(ids: Int32Array, mask: Int32Array, t: number): Float32Array {
    if (this.disposed) throw new Error('FastDecoder: disposed');
    const cfg = this.model.config;
    const B = this.batch;
    const d = cfg.dModel;
    const H = cfg.nHeads;
    const hd = d / H;
    const past = this.length;
    const Tk = past + t;
    if (Tk > this.capacity) throw new Error(`FastDecoder: ${Tk} positions exceed the capacity ${this.capacity}`);
    if (ids.length !== B * t || mask.length !== B * Tk) throw new Error(`FastDecoder: ids must hold ${B * t} and mask ${B * Tk} values`);
    const R = B * t;
    const k = this.k;
    const bf = this.bufs as Record<'x' | 'h' | 'qkv' | 'att' | 'f' | 'stats' | 'logits' | 'work' | 'bias' | 'biasLocal' | 'pack', number>;
    let heap = this.heap();
    // Embeddings, positions from the mask (cumsum - 1, clipped at 0), and the additive attention masks.
    const x = bf.x >> 2;
    for (let b = 0; b < B; b++) {
      let pos = -1;
      for (let j = 0; j < past; j++) pos += mask[b * Tk + j]!;
      for (let s = 0; s < t; s++) {
        pos += mask[b * Tk + past + s]!;
        const id = ids[b * t + s]!;
        if (id < 0 || id >= cfg.vocabSize) throw new Error(`FastDecoder: token ${id} outside [0, ${cfg.vocabSize})`);
        const p = Math.max(pos, 0);
        const row = x + (b * t + s) * d;
        const te = (this.wte >> 2) + id * d;
        const pe = (this.wpe >> 2) + p * d;
        for (let j = 0; j < d; j++) heap[row + j] = heap[te + j]! + heap[pe + j]!;
        for (const [buf, window] of [
          [bf.bias, null],
          [bf.biasLocal, cfg.windowSize],
        ] as const) {
          const o = (buf >> 2) + (b * t + s) * Tk;
          const q = past + s;
          for (let j = 0; j < Tk; j++) {
            const ok = mask[b * Tk + j]! !== 0 && j <= q && (window === null || q - j < window);
            heap[o + j] = ok ? 0 : MASKED_SCORE;
          }
        }
      }
    }
    const eps = cfg.layerNormEps;
    const scale0 = cfg.scaleAttention ? 1 / Math.sqrt(hd) : 1;
    for (let li = 0; li < this.layers.length; li++) {
      const L = this.layers[li]!;
      const scale = cfg.scaleByInverseLayerIdx ? scale0 / (li + 1) : scale0;
      k.layernorm_fwd(bf.x, L.ln1G, L.ln1B, bf.h, bf.stats, R, d, eps);
      this.linear(bf.h, L.qkvW, L.qkvB, bf.qkv, R, d, 3 * d, false);
      heap = this.heap();
      for (let b = 0; b < B; b++) {
        for (let s = 0; s < t; s++) {
          const src = (bf.qkv >> 2) + (b * t + s) * 3 * d;
          const dst = (b * this.capacity + past + s) * d;
          heap.copyWithin((L.k >> 2) + dst, src + d, src + 2 * d);
          heap.copyWithin((L.v >> 2) + dst, src + 2 * d, src + 3 * d);
        }
      }
      const bias = L.local ? bf.biasLocal : bf.bias;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const q = bf.qkv + 4 * (b * t * 3 * d + h * hd);
          const kb = L.k + 4 * (b * this.capacity * d + h * hd);
          const vb = L.v + 4 * (b * this.capacity * d + h * hd);
          k.gemm_nt(q, kb, bf.work, 0, t, hd, Tk, 3 * d, d, Tk);
          k.softmax_rows(bf.work, bf.work, t, Tk, Tk, Tk, scale, bias + 4 * b * t * Tk, Tk);
          k.gemm(bf.work, vb, bf.att + 4 * (b * t * d + h * hd), 0, t, Tk, hd, Tk, 1, d, d, bf.pack, hd, 0, 0, 0);
        }
      }
      this.linear(bf.att, L.outW, L.outB, bf.x, R, d, d, true); // x += attn
      k.layernorm_fwd(bf.x, L.ln2G, L.ln2B, bf.h, bf.stats, R, d, eps);
      this.linear(bf.h, L.fcW, L.fcB, bf.f, R, d, cfg.dInner, false);
      k.gelu_fwd(bf.f, bf.f, R * cfg.dInner);
      this.linear(bf.f, L.projW, L.projB, bf.x, R, cfg.dInner, d, true); // x += mlp
    }
    // Final norm on each row's last position, then the tied head.
    const last = bf.h; // reuse: B rows of d
    for (let b = 0; b < B; b++) {
      k.layernorm_fwd(bf.x + 4 * ((b * t + t - 1) * d), this.lnfG, this.lnfB, last + 4 * b * d, bf.stats, 1, d, eps);
    }
    const V = cfg.vocabSize;
    const Vp = this.vocabPadded;
    this.linear(last, this.head, 0, bf.logits, B, d, Vp, false);
    this.length = Tk;
    heap = this.heap();
    if (Vp === V) return heap.slice(bf.logits >> 2, (bf.logits >> 2) + B * V);
    const out = new Float32Array(B * V);
    for (let b = 0; b < B; b++) out.set(heap.subarray((bf.logits >> 2) + b * Vp, (bf.logits >> 2) + b * Vp + V), b * V);
    return out;
  }

  /** Frees the decoder's buffers. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose(this.owned);
    this.owned.length = 0;
  }
}
