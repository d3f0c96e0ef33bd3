/**
 * Optional second thread for large GEMMs on the wasm backend. The tfjs heap is not shared memory, so a product
 * is copied into a shared WebAssembly memory, split by rows between the main thread and one worker running the
 * same SIMD kernel (gemm-worker.ts), and the result copied back. Worth it for products of several MFLOP
 * (the copies are O(mk + kn + mn) against O(mkn) work); smaller ones stay single-threaded.
 *
 * Off by default; enable with `initBackend('wasm', { threads: 2 })` or DETOX_WASM_THREADS=2.
 */
import { Worker } from 'node:worker_threads';
import { gemmPanel, kernelsUseFma, registerGemmThreads, sharedGemmModuleBytes, type ParallelGemmArgs } from './simd.js';


/** Largest shared memory, in 64 KiB pages (1 GiB). */
const MAX_PAGES = 16384;
/** Products below this many multiply-adds stay on one thread. */
const MIN_MACS = 1 << 21;
/** Milliseconds the main thread waits for the worker before giving up. */
const WORKER_TIMEOUT_MS = 30_000;

interface WasmNs {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBuffer; grow(n: number): number };
  Module: new (b: Uint8Array) => unknown;
  Instance: new (m: unknown, i: Record<string, Record<string, unknown>>) => { exports: Record<string, (...a: number[]) => void> };
}

interface Pool {
  worker: Worker;
  memory: { buffer: ArrayBuffer; grow(n: number): number };
  ctrl: Int32Array;
  gemm: (...a: number[]) => void;
  seq: number;
  fma: boolean;
}

let pool: Pool | undefined;

/** True when the worker thread is running. */
export function gemmThreadsEnabled(): boolean {
  return pool !== undefined;
}

/**
 * Starts the GEMM worker (idempotent) and waits until it has compiled its kernel. Must run after the SIMD kernels
 * were compiled (initBackend does).
 */
export async function enableGemmThreads(): Promise<void> {
  if (pool) return;
  const W = (globalThis as unknown as { WebAssembly: WasmNs }).WebAssembly;
  const memory = new W.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
  const bytes = sharedGemmModuleBytes(MAX_PAGES);
  const instance = new W.Instance(new W.Module(bytes), { env: { memory } });
  const control = new SharedArrayBuffer(32 * 4);
  const worker = new Worker(new URL('./gemm-worker.js', import.meta.url), { workerData: { bytes, memory, control }, execArgv: [] });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`GEMM worker: unexpected message ${String(m)}`))));
    worker.once('error', (e) => reject(new Error(`GEMM worker failed to start: ${e.message}`)));
  });
  worker.unref();
  pool = { worker, memory, ctrl: new Int32Array(control), gemm: instance.exports.gemm!, seq: 0, fma: kernelsUseFma() };
}

/** Stops the worker. */
export async function disableGemmThreads(): Promise<void> {
  const p = pool;
  if (!p) return;
  pool = undefined;
  p.ctrl[2] = 1;
  Atomics.add(p.ctrl, 0, 1);
  Atomics.notify(p.ctrl, 0);
  await p.worker.terminate();
}

/**
 * Runs C = op(A)·op(B) (+ bias) (+ C) on two threads when the pool is on and the product is large enough.
 * @param heap the tfjs heap buffer
 * @returns false when the product was not taken (caller runs it single-threaded)
 */
function parallelGemm(heap: ArrayBuffer, g: ParallelGemmArgs): boolean {
  const p = pool;
  const { m, k, n } = g;
  if (!p || m < 64 || m * k * n < MIN_MACS || n % 4 !== 0) return false;
  const nb = gemmPanel(k, n);
  const m0 = (m >> 1) & ~3; // worker rows [0, m0), main rows [m0, m)
  const packFloats = ((m - m0 + 3) & ~3) * k + k * nb + 64;
  const align = (x: number) => (x + 15) & ~15;
  let top = 64;
  const take = (floats: number) => {
    const at = top;
    top = align(top + floats * 4);
    return at;
  };
  const A = take(m * k);
  const B = take(k * n);
  const BIAS = take(n);
  const C = take(m * n);
  const P0 = take(packFloats);
  const P1 = take(packFloats);
  const needPages = Math.ceil(top / 65536);
  const havePages = p.memory.buffer.byteLength / 65536;
  if (needPages > MAX_PAGES) return false;
  if (needPages > havePages) p.memory.grow(needPages - havePages);
  const sh = new Float32Array(p.memory.buffer);
  const hp = new Float32Array(heap);
  sh.set(hp.subarray(g.a >> 2, (g.a >> 2) + m * k), A >> 2);
  sh.set(hp.subarray(g.b >> 2, (g.b >> 2) + k * n), B >> 2);
  if (g.bias) sh.set(hp.subarray(g.bias >> 2, (g.bias >> 2) + n), BIAS >> 2);
  if (g.accumulate) sh.set(hp.subarray(g.c >> 2, (g.c >> 2) + m * n), C >> 2);
  const sAm = g.transA ? 1 : k;
  const sAk = g.transA ? m : 1;
  const rowA = (r: number) => A + 4 * r * sAm;
  const ldb = g.transB ? k : n;
  const bTrans = g.transB ? 1 : 0;
  const biasPtr = g.bias ? BIAS : 0;
  const acc = g.accumulate ? 1 : 0;
  const packA0 = P0;
  const packB0 = P0 + 4 * (((m0 + 3) & ~3) * k);
  const packA1 = P1;
  const packB1 = P1 + 4 * (((m - m0 + 3) & ~3) * k);
  const c = p.ctrl;
  const params = [rowA(0), B, C, biasPtr, m0, k, n, sAm, sAk, ldb, n, packA0, nb, packB0, bTrans, acc];
  for (let i = 0; i < params.length; i++) c[4 + i] = params[i]!;
  c[2] = 0;
  const seq = Atomics.add(c, 0, 1) + 1;
  Atomics.notify(c, 0);
  p.gemm(rowA(m0), B, C + 4 * m0 * n, biasPtr, m - m0, k, n, sAm, sAk, ldb, n, packA1, nb, packB1, bTrans, acc);
  const t0 = Date.now();
  let done: number;
  while ((done = Atomics.load(c, 1)) !== seq) {
    if (Atomics.wait(c, 1, done, 1000) === 'timed-out' && Date.now() - t0 > WORKER_TIMEOUT_MS) {
      pool = undefined;
      void p.worker.terminate();
      throw new Error(`parallel GEMM: the worker thread did not answer within ${WORKER_TIMEOUT_MS / 1000} s; threads disabled`);
    }
  }
  new Float32Array(heap).set(new Float32Array(p.memory.buffer).subarray(C >> 2, (C >> 2) + m * n), g.c >> 2);
  return true;
}

registerGemmThreads({ enabled: gemmThreadsEnabled, run: parallelGemm });
