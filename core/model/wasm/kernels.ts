/**
 * Kernel fixes for TensorFlow.js's wasm backend (4.22), registered in place of (or next to) the stock kernels:
 *
 * - `BatchMatMul` and `_FusedMatMul`: the stock kernel only reaches XNNPACK's fast GEMM (~25-30 GFLOP/s) when
 *   neither operand is transposed AND both have batch size 1; everything else runs a naive loop (~1-2 GFLOP/s),
 *   and a rank-3 × rank-2 product (e.g. [B, T, d] × [d, n]) is ~40x slower than the same product flattened to
 *   2-D. The override runs every layout (Aᵀ·B and A·Bᵀ natively, batched, a's batch folded into rows, fused
 *   bias) on the SIMD GEMM of simd.ts (~45-50 GFLOP/s with FMA); shapes it does not take fall back to
 *   explicit transposes + XNNPACK (per batch entry on zero-copy views of the heap). Every `tf.matMul` goes
 *   through it, including the ones autodiff emits for gradients (which set transpose flags). When the native
 *   matmul is selected (native-matmul.ts), products of at least NATIVE_MIN_MACS multiply-adds (and every one
 *   the SIMD kernel cannot take) run on OpenBLAS's sgemm in place on the heap instead.
 * - `UnsortedSegmentSum`: missing on wasm, yet the gradient of `gather` (embedding lookups) needs it.
 * - `OneHot`: the stock kernel writes integer bit patterns into float32 outputs; the override fills the output
 *   itself for any dtype.
 * - `Transpose` of the last two axes: the stock kernel is cache-unfriendly (a [4096, 256] transpose takes ~7 ms);
 *   transposes that swap the two innermost axes use a blocked copy instead.
 * - `GatherV2` along axis 0 (embedding lookups): the stock kernel takes ~10 ms for 512 rows of a [4096, 256]
 *   table; the override copies rows.
 * - `Sum` over leading axes (bias gradients): the stock kernel transposes first (~4 ms for [512, 1024]); the
 *   override sums columns in one SIMD pass.
 * - `Identity` shares data instead of copying (autodiff clones every tensor it saves for backward).
 */
import * as tf from '@tensorflow/tfjs';
import { fastColSum, fastGemm, fastGemmNT, fastKernelsAvailable, fastTranspose } from './simd.js';
import { activeNativeBlas, nativeMinMacs } from './native-matmul.js';
import type { WasmBackendLike } from './backend-like.js';

type TensorInfo = tf.TensorInfo;

/** The parts of tfjs-backend-wasm's BackendWasm the kernels touch (backend-like.ts; re-exported for the importers). */
export type { WasmBackendLike } from './backend-like.js';

function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: WasmBackendLike, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

/** Float32 view of a tensor's data (valid until the heap grows: take it right before use). */
function f32View(backend: WasmBackendLike, info: TensorInfo): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, info), sizeOf(info.shape));
}

/** Int32 view of a tensor's data (valid until the heap grows). */
function i32View(backend: WasmBackendLike, info: TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, info), sizeOf(info.shape));
}

/** Allocates an output and checks the allocation really happened (malloc returns 0 when the heap is full). */
export function allocOutput(backend: WasmBackendLike, shape: number[], dtype: tf.DataType, what: string): TensorInfo {
  const out = backend.makeOutput(shape, dtype);
  if (sizeOf(shape) > 0 && heapOffset(backend, out) === 0) {
    backend.disposeData(out.dataId);
    throw new Error(wasmOomMessage(`${what} output ${JSON.stringify(shape)} (${(sizeOf(shape) * 4 / 2 ** 20).toFixed(1)} MiB)`));
  }
  return out;
}

/** Message used whenever the 32-bit wasm heap runs out. */
export function wasmOomMessage(what: string): string {
  return `wasm heap exhausted while allocating ${what}: the wasm backend addresses at most 4 GiB. ` +
    'Try a smaller batch (or mini-batch / forward batch size), shorter sequences, sharing layers with the reference ' +
    'model, or the memory strategies (activation recomputation, packed frozen weights); the optional ' +
    "'tensorflow' backend has no such limit. After an out-of-bounds failure the wasm module is unusable: restart the process.";
}

// --------------------------------------------------------------------------------------- transpose (last 2) ---

/** Blocked transpose of the two innermost axes: [..., r, c] → [..., c, r]. */
function transposeLast2(backend: WasmBackendLike, x: TensorInfo): TensorInfo {
  const shape = x.shape;
  const r = shape[shape.length - 2]!;
  const c = shape[shape.length - 1]!;
  const batch = sizeOf(shape.slice(0, -2));
  const outShape = [...shape.slice(0, -2), c, r];
  const out = allocOutput(backend, outShape, x.dtype, 'transpose');
  if (fastKernelsAvailable(backend)) {
    fastTranspose(backend, heapOffset(backend, x), heapOffset(backend, out), batch, r, c);
    return out;
  }
  const src = x.dtype === 'int32' ? i32View(backend, x) : f32View(backend, x);
  const dst = x.dtype === 'int32' ? i32View(backend, out) : f32View(backend, out);
  const B = 32;
  for (let b = 0; b < batch; b++) {
    const base = b * r * c;
    for (let i0 = 0; i0 < r; i0 += B) {
      const i1 = Math.min(i0 + B, r);
      for (let j0 = 0; j0 < c; j0 += B) {
        const j1 = Math.min(j0 + B, c);
        for (let i = i0; i < i1; i++) {
          const srow = base + i * c;
          for (let j = j0; j < j1; j++) dst[base + j * r + i] = src[srow + j]!;
        }
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ matmul ---

let stockBatchMatMul: tf.KernelConfig | undefined;
let stockFusedMatMul: tf.KernelConfig | undefined;
let cBatchMatMul: ((...a: unknown[]) => void) | undefined;
let cBackend: unknown;

function cMatMul(backend: WasmBackendLike): (...a: unknown[]) => void {
  if (!cBatchMatMul || cBackend !== backend) {
    cBatchMatMul = backend.wasm.cwrap('BatchMatMul', null,
      ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    cBackend = backend;
  }
  return cBatchMatMul;
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** Registers a tensor id for a window of the heap (no allocation); release with `backend.wasm.tfjs.disposeData`. */
function heapView(backend: WasmBackendLike, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** XNNPACK GEMM per batch entry on zero-copy views (used when the SIMD kernels cannot take the shape). */
function xnnBatchedGemm(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, out: TensorInfo,
  batch: number, aBatched: boolean, bBatched: boolean, m: number, k: number, n: number): void {
  const ao = heapOffset(backend, a);
  const bo = heapOffset(backend, b);
  const oo = heapOffset(backend, out);
  const mm = cMatMul(backend);
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  for (let i = 0; i < batch; i++) {
    const ai = heapView(backend, ao + 4 * (aBatched ? i * m * k : 0), m * k);
    const bi = heapView(backend, bo + 4 * (bBatched ? i * k * n : 0), k * n);
    const oi = heapView(backend, oo + 4 * i * m * n, m * n);
    mm(ai, aShape, 3, bi, bShape, 3, 0, 0, oi);
    backend.wasm.tfjs.disposeData(ai);
    backend.wasm.tfjs.disposeData(bi);
    backend.wasm.tfjs.disposeData(oi);
  }
}

/** Shapes of a (batched) product after resolving transpose flags. */
interface ProductShape {
  m: number; k: number; n: number;
  batchA: number; batchB: number; batch: number;
  outShape: number[];
  /** Batch dims equal, or one side unbatched (the broadcasts the kernels implement). */
  simpleBatch: boolean;
}

function productShape(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): ProductShape {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) {
    throw new Error(`matMul: inner dimensions differ: a ${JSON.stringify(a.shape)} (transposeA=${transA}) ` +
      `vs b ${JSON.stringify(b.shape)} (transposeB=${transB})`);
  }
  const aOuter = a.shape.slice(0, -2);
  const bOuter = b.shape.slice(0, -2);
  const batchA = sizeOf(aOuter);
  const batchB = sizeOf(bOuter);
  const outOuter = tf.backend_util.assertAndGetBroadcastShape(aOuter, bOuter);
  const same = batchA === batchB && aOuter.length === bOuter.length && aOuter.every((d, i) => d === bOuter[i]);
  return { m, k, n, batchA, batchB, batch: Math.max(batchA, batchB), outShape: [...outOuter, m, n], simpleBatch: same || batchA === 1 || batchB === 1 };
}

/**
 * Runs a product on the SIMD kernels when the shape allows it; returns undefined otherwise.
 * @param bias heap offset of a [n] bias, or 0
 */
function simdProduct(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean,
  p: ProductShape, bias: number): TensorInfo | undefined {
  if (!fastKernelsAvailable(backend) || !p.simpleBatch) return undefined;
  const { m, k, n, batchA, batchB, batch } = p;
  const strideA = batchA > 1 ? m * k : 0;
  const strideB = batchB > 1 ? k * n : 0;
  const foldRows = batchB === 1 && batchA > 1 && !transA; // a's batch folds into rows of one product
  if (!transB && n % 4 === 0) {
    const out = allocOutput(backend, p.outShape, 'float32', 'matMul');
    if (foldRows) fastGemm(backend, heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), 1, batchA * m, k, n, 0, 0, { bias });
    else fastGemm(backend, heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), batch, m, k, n, strideA, strideB, { transA, bias });
    return out;
  }
  if (transB && !transA && k % 4 === 0) {
    const out = allocOutput(backend, p.outShape, 'float32', 'matMul');
    if (foldRows) fastGemmNT(backend, heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), 1, batchA * m, k, n, 0, 0, bias);
    else fastGemmNT(backend, heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out), batch, m, k, n, strideA, strideB, bias);
    return out;
  }
  if (transB && n % 4 === 0) {
    // Make B row-major [k, n] explicitly, then the NN/TN kernel.
    const bt = transposeLast2(backend, b);
    try {
      return simdProduct(backend, a, bt, transA, false, p, bias);
    } finally {
      backend.disposeData(bt.dataId);
    }
  }
  return undefined;
}

/** Whether {@link simdProduct} takes this product (mirrors its conditions). */
function simdTakes(backend: WasmBackendLike, transA: boolean, transB: boolean, p: ProductShape): boolean {
  if (!p.simpleBatch || !fastKernelsAvailable(backend)) return false;
  return (!transB && p.n % 4 === 0) || (transB && !transA && p.k % 4 === 0) || (transB && p.n % 4 === 0);
}

/**
 * Runs a product on the native sgemm (native-matmul.ts) when it is selected and the product is worth it; returns
 * undefined otherwise. Reads and writes the heap in place: a's batch folds into rows when b is unbatched, other
 * batches run as one strided call.
 * @param bias a [n] bias added to every row, or undefined
 */
function nativeProduct(backend: WasmBackendLike, a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean,
  p: ProductShape, bias: TensorInfo | undefined): TensorInfo | undefined {
  const blas = activeNativeBlas();
  if (!blas || !p.simpleBatch) return undefined;
  const { m, k, n, batchA, batchB, batch } = p;
  if (m * n * k * batch < nativeMinMacs() && simdTakes(backend, transA, transB, p)) return undefined;
  const out = allocOutput(backend, p.outShape, 'float32', 'matMul'); // [...batch, m, n]
  // Offsets are stable; the heap's ArrayBuffer is taken after the allocation (growth replaces it).
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const ao = heapOffset(backend, a);
  const bo = heapOffset(backend, b);
  const oo = heapOffset(backend, out);
  const biasOff = bias ? heapOffset(backend, bias) : -1;
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  if (batchB === 1 && batchA > 1 && !transA) {
    // [batchA·m, k] · op(B): one product over all rows.
    blas.sgemmHeap(heap, false, transB, batchA * m, n, k, ao, lda, 0, bo, ldb, 0, oo, n, 0, 1, biasOff, false);
  } else {
    blas.sgemmHeap(heap, transA, transB, m, n, k, ao, lda, batchA > 1 ? m * k : 0, bo, ldb, batchB > 1 ? k * n : 0,
      oo, n, m * n, batch, biasOff, false);
  }
  return out;
}

function batchMatMulKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`matMul on wasm supports float32 only, got a: ${a.dtype}, b: ${b.dtype}`);
  }
  const p = productShape(a, b, !!transposeA, !!transposeB);
  const native = nativeProduct(backend, a, b, !!transposeA, !!transposeB, p, undefined);
  if (native) return native;
  const fast = simdProduct(backend, a, b, !!transposeA, !!transposeB, p, 0);
  if (fast) return fast;
  return fallbackProduct(backend, a, b, !!transposeA, !!transposeB, p);
}

/** Products the SIMD kernels do not take: explicit transposes, then XNNPACK (2-D or per batch entry). */
function fallbackProduct(backend: WasmBackendLike, a0: TensorInfo, b0: TensorInfo, transA: boolean, transB: boolean, p: ProductShape): TensorInfo {
  const temps: TensorInfo[] = [];
  try {
    let a = a0;
    let b = b0;
    if (transA) {
      a = transposeLast2(backend, a);
      temps.push(a);
    }
    if (transB) {
      b = transposeLast2(backend, b);
      temps.push(b);
    }
    const { m, k, n, batchA, batchB, batch } = p;
    if (batchB === 1) {
      // Fold a's batch into rows: one 2-D GEMM on XNNPACK's fast path.
      const res = stockBatchMatMul!.kernelFunc({
        inputs: { a: { ...a, shape: [1, batchA * m, k] }, b: { ...b, shape: [1, k, n] } },
        backend: backend as unknown as tf.KernelBackend,
        attrs: { transposeA: false, transposeB: false },
      }) as TensorInfo;
      return { ...res, shape: p.outShape };
    }
    if (p.simpleBatch) {
      const out = allocOutput(backend, p.outShape, 'float32', 'matMul');
      xnnBatchedGemm(backend, a, b, out, batch, batchA > 1, batchB > 1, m, k, n);
      return out;
    }
    // General broadcasting of batch dims (not used by the engine): stock kernel, untransposed.
    return stockBatchMatMul!.kernelFunc({
      inputs: { a, b }, backend: backend as unknown as tf.KernelBackend, attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** out[..., j] += bias[j] in place (out's last axis has bias's length). */
function addBiasRows(backend: WasmBackendLike, out: TensorInfo, bias: TensorInfo): void {
  const o = f32View(backend, out);
  const b = f32View(backend, bias);
  const n = b.length;
  for (let r = 0; r < o.length; r += n) {
    for (let j = 0; j < n; j++) o[r + j] += b[j]!;
  }
}

function fusedMatMulKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const { transposeA, transposeB, activation } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; activation?: string };
  const p = productShape(a!, b!, !!transposeA, !!transposeB);
  const biasOk = !bias || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === p.n);
  if ((activation ?? 'linear') === 'linear' && !preluActivationWeights && biasOk && a!.dtype === 'float32' && b!.dtype === 'float32') {
    const native = nativeProduct(backend, a!, b!, !!transposeA, !!transposeB, p, bias);
    if (native) return native;
    const fast = simdProduct(backend, a!, b!, !!transposeA, !!transposeB, p, bias ? heapOffset(backend, bias) : 0);
    if (fast) return fast;
    if (transposeA || transposeB || p.batch > 1) {
      // The stock fused kernel mishandles transposed and batched products (wrong results): product, then bias.
      // Plain 2-D products keep the stock kernel, whose rounding (bias in the accumulator) earlier results used.
      const out = fallbackProduct(backend, a!, b!, !!transposeA, !!transposeB, p); // [...batch, m, n]
      if (bias) addBiasRows(backend, out, bias);
      return out;
    }
  }
  return stockFusedMatMul!.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

// ------------------------------------------------------------------------------------- segment sum, oneHot ---

function unsortedSegmentSumKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x!;
  const ids = args.inputs.segmentIds!;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  if (ids.dtype !== 'int32') throw new Error(`unsortedSegmentSum: segmentIds must be int32, got ${ids.dtype}`);
  const nIds = sizeOf(ids.shape);
  const inner = sizeOf(x.shape) / Math.max(nIds, 1);
  if (!Number.isInteger(inner)) {
    throw new Error(`unsortedSegmentSum: x ${JSON.stringify(x.shape)} does not start with segmentIds' shape ${JSON.stringify(ids.shape)}`);
  }
  const outShape = [numSegments, ...x.shape.slice(ids.shape.length)];
  const out = allocOutput(backend, outShape, x.dtype, 'unsortedSegmentSum');
  const dst = x.dtype === 'int32' ? i32View(backend, out) : f32View(backend, out);
  const src = x.dtype === 'int32' ? i32View(backend, x) : f32View(backend, x);
  const seg = i32View(backend, ids);
  dst.fill(0);
  for (let i = 0; i < nIds; i++) {
    const s = seg[i]!;
    if (s < 0 || s >= numSegments) continue; // out-of-range ids are dropped, as in TensorFlow
    const so = i * inner;
    const dofs = s * inner;
    for (let j = 0; j < inner; j++) dst[dofs + j] += src[so + j]!;
  }
  return out;
}

function oneHotKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const indices = args.inputs.indices!;
  const { dtype, depth, onValue, offValue } = args.attrs as { dtype: tf.DataType; depth: number; onValue: number; offValue: number };
  if (indices.dtype !== 'int32') throw new Error(`oneHot: indices must be int32, got ${indices.dtype}`);
  const n = sizeOf(indices.shape);
  const out = allocOutput(backend, [...indices.shape, depth], dtype, 'oneHot');
  const dst = dtype === 'float32' ? f32View(backend, out) : i32View(backend, out);
  const idx = i32View(backend, indices);
  dst.fill(offValue);
  for (let i = 0; i < n; i++) {
    const v = idx[i]!;
    if (v >= 0 && v < depth) dst[i * depth + v] = onValue;
  }
  return out;
}

function transposeKernelFactory(stock: tf.KernelConfig) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const x = args.inputs.x!;
    const perm = (args.attrs as { perm: number[] }).perm;
    const r = perm.length;
    const swapsLast2 = r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, -2).every((p, i) => p === i);
    if (swapsLast2 && (x.dtype === 'float32' || x.dtype === 'int32')) {
      return transposeLast2(args.backend as WasmBackendLike, x);
    }
    return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  };
}

// ------------------------------------------------------------------------------------------- gather, sum ---

function gatherFactory(stock: tf.KernelConfig) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as WasmBackendLike;
    const x = args.inputs.x!;
    const indices = args.inputs.indices!;
    const { axis, batchDims } = (args.attrs ?? {}) as { axis: number; batchDims?: number };
    const ax = axis < 0 ? axis + x.shape.length : axis;
    if (ax !== 0 || (batchDims ?? 0) !== 0 || indices.dtype !== 'int32' || (x.dtype !== 'float32' && x.dtype !== 'int32')) {
      return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
    }
    const rows = x.shape[0]!;
    const row = sizeOf(x.shape.slice(1));
    const n = sizeOf(indices.shape);
    const out = allocOutput(backend, [...indices.shape, ...x.shape.slice(1)], x.dtype, 'gather');
    const idx = i32View(backend, indices);
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const src = heapOffset(backend, x) >> 2;
    const dst = heapOffset(backend, out) >> 2;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      if (r < 0 || r >= rows) {
        backend.disposeData(out.dataId);
        throw new Error(`gather: index ${r} at position ${i} is outside [0, ${rows})`);
      }
      heap.copyWithin(dst + i * row, src + r * row, src + (r + 1) * row);
    }
    return out;
  };
}

function sumFactory(stock: tf.KernelConfig) {
  return (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo => {
    const backend = args.backend as WasmBackendLike;
    const x = args.inputs.x!;
    const { axis, keepDims } = (args.attrs ?? {}) as { axis: number | number[]; keepDims?: boolean };
    const r = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < r && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32' || !fastKernelsAvailable(backend)) {
      return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
    }
    const rows = sizeOf(x.shape.slice(0, axes.length));
    const rest = x.shape.slice(axes.length);
    const outShape = keepDims ? [...axes.map(() => 1), ...rest] : rest;
    const out = allocOutput(backend, outShape, 'float32', 'sum');
    fastColSum(backend, heapOffset(backend, x), heapOffset(backend, out), rows, sizeOf(rest));
    return out;
  };
}

/**
 * Identity shares the input's data (as the cpu backend does) instead of copying it: autodiff clones every
 * tensor it saves for the backward pass, and the stock wasm kernel copies each one.
 */
function identityKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const x = args.inputs.x!;
  const backend = args.backend as WasmBackendLike & { incRef(id: object): void };
  if (x.dtype === 'string') throw new Error('identity: string tensors are not supported on wasm');
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// ------------------------------------------------------------------------------------------- registration ---

let patched = false;

/** Names of the kernels this module registers for the wasm backend. */
const PATCHED_WASM_KERNELS = ['BatchMatMul', '_FusedMatMul', 'GatherV2', 'Sum', 'Identity', 'UnsortedSegmentSum', 'OneHot', 'Transpose'] as const;

/**
 * Registers the fixed kernels for the 'wasm' backend (idempotent). Call after importing
 * '@tensorflow/tfjs-backend-wasm' and before `tf.setBackend('wasm')` so setup functions run on init.
 */
export function patchWasmKernels(): readonly string[] {
  if (patched) return PATCHED_WASM_KERNELS;
  const bmm = tf.getKernel('BatchMatMul', 'wasm');
  const oneHot = tf.getKernel('OneHot', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  const fused = tf.getKernel('_FusedMatMul', 'wasm');
  const gather = tf.getKernel('GatherV2', 'wasm');
  const sum = tf.getKernel('Sum', 'wasm');
  if (!bmm || !oneHot || !transpose || !fused || !gather || !sum) {
    throw new Error("patchWasmKernels: the 'wasm' backend's kernels are not registered; import '@tensorflow/tfjs-backend-wasm' first");
  }
  stockBatchMatMul = bmm;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', setupFunc: bmm.setupFunc, kernelFunc: batchMatMulKernel as tf.KernelFunc });
  stockFusedMatMul = fused;
  tf.unregisterKernel('_FusedMatMul', 'wasm');
  tf.registerKernel({ kernelName: '_FusedMatMul', backendName: 'wasm', setupFunc: fused.setupFunc, kernelFunc: fusedMatMulKernel as tf.KernelFunc });
  tf.unregisterKernel('GatherV2', 'wasm');
  tf.registerKernel({ kernelName: 'GatherV2', backendName: 'wasm', setupFunc: gather.setupFunc, kernelFunc: gatherFactory(gather) as tf.KernelFunc });
  tf.unregisterKernel('Sum', 'wasm');
  tf.registerKernel({ kernelName: 'Sum', backendName: 'wasm', setupFunc: sum.setupFunc, kernelFunc: sumFactory(sum) as tf.KernelFunc });
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: identityKernel as tf.KernelFunc });
  tf.unregisterKernel('OneHot', 'wasm');
  tf.registerKernel({ kernelName: 'OneHot', backendName: 'wasm', kernelFunc: oneHotKernel as tf.KernelFunc });
  tf.unregisterKernel('Transpose', 'wasm');
  tf.registerKernel({ kernelName: 'Transpose', backendName: 'wasm', setupFunc: transpose.setupFunc, kernelFunc: transposeKernelFactory(transpose) as tf.KernelFunc });
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumKernel as tf.KernelFunc });
  }
  patched = true;
  return PATCHED_WASM_KERNELS;
}

/** The stock wasm BatchMatMul kernel (for tests that measure the slow path it replaces). */
export function stockWasmBatchMatMul(): tf.KernelConfig | undefined {
  return stockBatchMatMul;
}
