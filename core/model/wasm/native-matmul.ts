/**
 * The optional native matmul of the wasm backend: the system OpenBLAS's `cblas_sgemm`, reached through a small
 * N-API addon (native/blas.c, built at install time by native/build.mjs when libopenblas-dev is present) and run
 * directly on the wasm heap (no copies). kernels.ts sends `BatchMatMul` / `_FusedMatMul` here when it is
 * selected; the SIMD GEMM of simd.ts stays the fallback.
 *
 * Everything here is per thread: each worker thread that calls `initBackend` loads the addon (lazily, once) and
 * sets its own BLAS thread count.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { coresForThisProcess } from '../../util/cores.js';

/** Matmul implementations the wasm backend can use: 'auto' = native when the addon loads, else js. */
export const MATMUL_MODES = ['auto', 'native', 'js'] as const;
export type MatmulMode = (typeof MATMUL_MODES)[number];

/** The addon's exports (native/blas.c). Sizes and strides in elements, heap offsets in bytes. */
export interface NativeBlasAddon {
  /** Row-major C = alpha·op(A)·op(B) + beta·C on Float32Arrays (cblas semantics; extents checked). */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void;
  /**
   * For i < batch: C[i] = op(A[i])·op(B[i]) (+ bias row) (+ C[i] when accumulate), all on one ArrayBuffer (the
   * wasm heap). Strides 0 reuse one matrix for every i; biasOff < 0 means no bias.
   */
  sgemmHeap(heap: ArrayBuffer, transA: boolean, transB: boolean, m: number, n: number, k: number,
    aOff: number, lda: number, strideA: number, bOff: number, ldb: number, strideB: number,
    cOff: number, ldc: number, strideC: number, batch: number, biasOff: number, accumulate: boolean): void;
  /** Threads OpenBLAS uses for this thread's calls. */
  setThreads(n: number): void;
  /** openblas_get_config(), the detected core, and the thread count in force for this thread. */
  getConfig(): { config: string; corename: string; threads: number };
}

/** Whether the addon loaded, with its OpenBLAS configuration or the reason it did not. */
type NativeAvailability = { available: true; config: string } | { available: false; reason: string };

/** How to get the native matmul, quoted by every error about it. */
const NATIVE_BUILD_HINT = 'build it with `apt-get install libopenblas-dev && npm rebuild` (or `node native/build.mjs`); ' +
  "matmul 'js' and 'auto' need nothing extra";

/** Where native/build.mjs puts the addon (relative to this file's compiled location, dist/core/model/). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../../native/build/Release/detox_blas.node', import.meta.url));

/**
 * Products with fewer multiply-adds than this stay on the SIMD kernel when it takes the shape: measured on a
 * 2-core Cooperlake, OpenBLAS (1 thread) is slower up to 32³ and ~2x faster from 64³ (≥ 90 GFLOP/s vs ~50).
 */
const NATIVE_MIN_MACS = 1 << 16;
let minMacs = NATIVE_MIN_MACS;

/** The current threshold (see {@link NATIVE_MIN_MACS}). */
export function nativeMinMacs(): number {
  return minMacs;
}

/** Sets the threshold (tests use 0 to send every product to the native sgemm); returns the previous one. */
export function setNativeMinMacs(macs: number): number {
  const prev = minMacs;
  minMacs = macs;
  return prev;
}

function defaultLoader(): NativeBlasAddon {
  // DETOX_NATIVE_ADDON overrides the path (a missing file simulates a machine without the addon).
  const file = process.env.DETOX_NATIVE_ADDON || NATIVE_ADDON_PATH;
  return createRequire(import.meta.url)(file) as NativeBlasAddon;
}

let loader: () => NativeBlasAddon = defaultLoader;
let loaded: { addon: NativeBlasAddon; config: string } | { reason: string } | undefined;
let active: { addon: NativeBlasAddon; threads: number; description: string } | undefined;

/**
 * Replaces how the addon is loaded (tests simulate a machine without it); no argument restores the default.
 * Forgets the loaded addon and switches the native matmul off until the next {@link selectMatmul}.
 */
export function setNativeLoader(load?: () => NativeBlasAddon): void {
  loader = load ?? defaultLoader;
  loaded = undefined;
  active = undefined;
}

function load(): { addon: NativeBlasAddon; config: string } | { reason: string } {
  if (!loaded) {
    try {
      const addon = loader();
      loaded = { addon, config: addon.getConfig().config };
    } catch (e) {
      const msg = (e as Error).message?.split('\n')[0] ?? String(e);
      loaded = { reason: /Cannot find module|ENOENT|no such file/i.test(msg) ? `the addon is not built (${msg})` : `the addon did not load (${msg})` };
    }
  }
  return loaded;
}

/** Loads the addon if needed (once per thread) and says whether it is usable, or why not. */
export function nativeMatmulAvailable(): NativeAvailability {
  const l = load();
  return 'addon' in l ? { available: true, config: l.config } : { available: false, reason: l.reason };
}

/** The addon when the native matmul is selected in this thread, else undefined (read by the wasm kernels). */
export function activeNativeBlas(): NativeBlasAddon | undefined {
  return active?.addon;
}

/** Default BLAS threads: this process's cores (core/util/cores.ts) shared evenly by `workers` engine threads, at least 1. */
export function defaultBlasThreads(workers = 1): number {
  return Math.max(1, Math.floor(coresForThisProcess() / Math.max(1, workers)));
}

/** What {@link selectMatmul} chose. */
interface MatmulSelection {
  matmul: 'native' | 'js';
  /** e.g. "OpenBLAS 0.3.21 sgemm (Haswell), 1 thread" or "wasm SIMD GEMM (native: the addon is not built ...)". */
  description: string;
  /** BLAS threads of this thread (native only). */
  blasThreads?: number;
}

/**
 * Chooses the wasm backend's matmul for this thread.
 * @param mode 'auto' (default) = DETOX_MATMUL when set, else native when the addon loads, else js; 'native' = the
 *   addon or an error; 'js' = the SIMD GEMM
 * @param opts.blasThreads OpenBLAS threads for this thread (default {@link defaultBlasThreads}(opts.workers))
 * @param opts.workers engine threads sharing the machine (only for the default of blasThreads)
 * @param opts.jsDescription how the js matmul is described
 * @throws for an unknown mode or blasThreads, or 'native' when the addon is absent (with {@link NATIVE_BUILD_HINT})
 */
export function selectMatmul(mode: MatmulMode | undefined, opts: { blasThreads?: number; workers?: number; jsDescription?: string } = {}): MatmulSelection {
  const envMode = process.env.DETOX_MATMUL;
  const fromEnv = (mode === undefined || mode === 'auto') && !!envMode;
  const m = fromEnv ? (envMode as MatmulMode) : (mode ?? 'auto');
  if (!(MATMUL_MODES as readonly string[]).includes(m)) {
    throw new Error(`matmul ${JSON.stringify(m)}${fromEnv ? ' (from DETOX_MATMUL)' : ''} is not supported; use one of ${MATMUL_MODES.join(', ')} (default 'auto')`);
  }
  const { blasThreads } = opts;
  if (blasThreads !== undefined && (!Number.isInteger(blasThreads) || blasThreads < 1 || blasThreads > 1024)) {
    throw new Error(`blasThreads must be an integer in [1, 1024], got ${blasThreads}`);
  }
  const js = opts.jsDescription ?? 'wasm SIMD GEMM';
  if (m === 'js') {
    active = undefined;
    return { matmul: 'js', description: js };
  }
  const l = load();
  if (!('addon' in l)) {
    active = undefined;
    if (m === 'native') throw new Error(`matmul 'native': ${l.reason}; ${NATIVE_BUILD_HINT}`);
    return { matmul: 'js', description: `${js} (native matmul unavailable: ${l.reason})` };
  }
  const threads = blasThreads ?? defaultBlasThreads(opts.workers);
  l.addon.setThreads(threads);
  const version = /OpenBLAS\s+\S+/.exec(l.config)?.[0] ?? (l.config || 'BLAS');
  const core = l.addon.getConfig().corename;
  const description = `${version} sgemm${core ? ` (${core})` : ''}, ${threads} thread${threads === 1 ? '' : 's'}`;
  active = { addon: l.addon, threads, description };
  return { matmul: 'native', description, blasThreads: threads };
}
