/**
 * Choosing and initialising the TensorFlow.js backend the engine runs on.
 *
 * 'wasm' (default) is @tensorflow/tfjs-backend-wasm, single-threaded under Node, with the kernel fixes of
 * kernels.ts registered before initialisation; its matmul is the SIMD GEMM ('js') or, when the optional addon
 * is built, the system OpenBLAS ('native', native-matmul.ts). 'cpu' is the pure-JS reference backend. 'tensorflow' and
 * 'tensorflow-gpu' are the optional native bindings (@tensorflow/tfjs-node / -gpu), loaded only when asked for.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { patchWasmKernels, wasmOomMessage, type WasmBackendLike } from './kernels.js';
import { kernelsUseFma, wasmKernels } from './simd.js';
import { disableGemmThreads, enableGemmThreads, gemmThreadsEnabled } from './threads.js';
import { selectMatmul, type MatmulMode } from './native-matmul.js';

/** Backends the engine can run on. */
export const BACKEND_NAMES = ['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What {@link initBackend} set up. */
export interface BackendInfo {
  /** The name asked for. */
  name: BackendName;
  /** tf.getBackend() after initialisation ('wasm', 'cpu', 'tensorflow'). */
  tfBackend: string;
  /** wasm only: whether the SIMD build was loaded. */
  simd?: boolean;
  /** wasm only: kernels replaced or added by this project. */
  patchedKernels?: readonly string[];
  /** wasm only: threads used by large GEMMs. */
  threads?: number;
  /** wasm only: the matmul in use — 'native' (OpenBLAS sgemm on the heap) or 'js' (the SIMD GEMM). */
  matmul?: 'native' | 'js';
  /** wasm only: the matmul in words, e.g. "OpenBLAS 0.3.21 sgemm (Haswell), 1 thread". */
  matmulDescription?: string;
}

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** wasm only: 1 (default) or 2 — large SIMD GEMMs split with a worker thread (threads.ts); DETOX_WASM_THREADS=2 sets the default. */
  threads?: number;
  /**
   * wasm only: 'auto' (default) = DETOX_MATMUL when set, else the native OpenBLAS matmul when its addon is built,
   * else 'js'; 'native' = the addon or an error saying how to build it; 'js' = the SIMD GEMM.
   */
  matmul?: MatmulMode;
  /** native matmul: OpenBLAS threads for this thread (default: available cores / workers, at least 1). */
  blasThreads?: number;
  /** native matmul: engine threads sharing the machine (default 1), for the default of blasThreads. */
  workers?: number;
}

const NATIVE_PACKAGES: Record<'tensorflow' | 'tensorflow-gpu', string> = {
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
};

/**
 * Initialises a backend and makes it the active one.
 * @param name 'wasm' (default), 'cpu', 'tensorflow' or 'tensorflow-gpu'
 * @param opts see {@link BackendOptions}; safe to call in each worker thread (every setting is per thread)
 * @throws for an unknown name, or when an optional native package is not installed (the message says how to
 *   install it and that 'wasm' is the default), or for matmul 'native' without the built addon, or matmul
 *   'native' on a backend other than 'wasm'
 */
export async function initBackend(name: BackendName = 'wasm', opts: BackendOptions = {}): Promise<BackendInfo> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(`backend ${JSON.stringify(name)} is not supported; use one of ${BACKEND_NAMES.join(', ')} (default 'wasm')`);
  }
  if (name !== 'wasm' && opts.matmul === 'native') {
    throw new Error(`matmul 'native' applies to the 'wasm' backend only, not '${name}'; use matmul 'auto' or 'js' there`);
  }
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    const pkg = NATIVE_PACKAGES[name];
    try {
      // A variable specifier keeps the optional package out of the type check and the static import graph.
      const spec: string = pkg;
      await import(spec);
    } catch (e) {
      throw new Error(`backend '${name}' needs the optional package ${pkg}, which could not be loaded ` +
        `(${(e as Error).message.split('\n')[0]}). Install it with \`npm install ${pkg}@4.22.0\` ` +
        "(it downloads a native TensorFlow library for your platform), or use the default backend 'wasm' " +
        "(or 'cpu'), which need nothing extra.");
    }
    const ok = await tf.setBackend('tensorflow');
    if (!ok) throw new Error(`backend '${name}': ${pkg} loaded but tf.setBackend('tensorflow') failed`);
    await tf.ready();
    return { name, tfBackend: tf.getBackend() };
  }
  if (name === 'wasm') {
    const patchedKernels = patchWasmKernels();
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error("backend 'wasm': initialisation failed (the .wasm binaries of @tensorflow/tfjs-backend-wasm could not be loaded)");
    await tf.ready();
    guardWasmMalloc();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    const threads = opts.threads ?? Number(process.env.DETOX_WASM_THREADS ?? 1);
    if (threads !== 1 && threads !== 2) throw new Error(`initBackend: threads must be 1 or 2, got ${threads}`);
    const simdOn = wasmKernels(tf.backend() as unknown as WasmBackendLike) !== undefined;
    if (threads === 2 && simdOn) await enableGemmThreads();
    else await disableGemmThreads();
    const gemmThreads = gemmThreadsEnabled() ? 2 : 1;
    const jsDescription = simdOn ? `wasm SIMD GEMM${kernelsUseFma() ? ' (FMA)' : ''}, ${gemmThreads} thread${gemmThreads === 1 ? '' : 's'}` : 'wasm XNNPACK GEMM';
    const sel = selectMatmul(opts.matmul, { blasThreads: opts.blasThreads, workers: opts.workers, jsDescription });
    return {
      name, tfBackend: tf.getBackend(), simd, patchedKernels, threads: gemmThreads,
      matmul: sel.matmul, matmulDescription: sel.description,
    };
  }
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error("backend 'cpu': initialisation failed");
  await tf.ready();
  return { name, tfBackend: tf.getBackend() };
}

/**
 * Makes a failed wasm heap allocation throw instead of handing out address 0 (which the stock backend would
 * then silently write through). Idempotent.
 */
function guardWasmMalloc(): void {
  const backend = tf.backend() as unknown as { wasm?: { _malloc: ((n: number) => number) & { guarded?: boolean } } };
  const wasm = backend.wasm;
  if (!wasm || wasm._malloc.guarded) return;
  const malloc = wasm._malloc.bind(wasm);
  const guarded = Object.assign((n: number): number => {
    const p = malloc(n);
    if (p === 0 && n > 0) throw new Error(wasmOomMessage(`${(n / 2 ** 20).toFixed(1)} MiB`));
    return p;
  }, { guarded: true });
  wasm._malloc = guarded;
}

/** True when an error is the wasm heap running out (out-of-bounds access, failed growth or failed malloc). */
export function isWasmOom(e: unknown): boolean {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return /memory access out of bounds|out of memory|Cannot enlarge memory|WebAssembly\.Memory\.grow|Array buffer allocation failed|Invalid typed array length|wasm heap exhausted/i.test(msg);
}

/**
 * Runs `fn`, turning a wasm out-of-memory failure into an error that says what ran out and what to try.
 * @param what the operation, e.g. 'policy forward (batch 64 x 128 tokens)'
 */
export function withWasmMemoryGuard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isWasmOom(e) && !/wasm heap exhausted while/.test((e as Error).message ?? '')) {
      throw new Error(`${what}: ${wasmOomMessage('tensors')} (original error: ${(e as Error).message ?? String(e)})`);
    }
    if (isWasmOom(e)) throw new Error(`${what}: ${(e as Error).message}`);
    throw e;
  }
}
