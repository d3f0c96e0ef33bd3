/**
 * The optional native (OpenBLAS) matmul of the wasm backend equals the js (SIMD GEMM) path: every transpose flag,
 * batched shapes, odd sizes, _FusedMatMul with a bias, a tiny GPT-2's forward and gradients, and a worker thread.
 * Selection: 'auto' falls back to js without the addon and 'native' then fails with how to build it.
 *
 * On a machine without the addon (no libopenblas-dev at install time) the comparisons assert that documented
 * fallback instead; when the addon file exists it must load, so a broken build fails here.
 */
import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { setFusedBlockEnabled } from '../../core/model/fused-block.js';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { FastDecoder } from '../../core/model/decode.js';
import {
  NATIVE_ADDON_PATH,
  nativeMatmulAvailable,
  setNativeLoader,
  setNativeMinMacs,
  type NativeBlasAddon,
} from '../../core/model/wasm/native-matmul.js';
import { SeededRandom } from '../../core/model/seeded-random.js';

const TOL = 1e-5;

/** Native sgemm calls made since the last reset (the real addon behind a counting wrapper). */
let nativeCalls = 0;

function countingLoader(): NativeBlasAddon {
  const addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeBlasAddon;
  return {
    ...addon,
    sgemmHeap: (...args: Parameters<NativeBlasAddon['sgemmHeap']>) => {
      nativeCalls++;
      addon.sgemmHeap(...args);
    },
  };
}

/** max |a - b| / max |b| (b the js reference). */
function relErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-30);
}

function randn(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    new SeededRandom(seed).normalArray(
      shape.reduce((a, b) => a * b, 1),
      1,
    ),
    shape,
  );
}

/**
 * True when the native comparisons can run here; otherwise asserts the documented fallback (auto → js, native →
 * the build hint) and that no addon file exists that failed to load.
 */
async function nativeOrFallback(t: ExecutionContext): Promise<boolean> {
  setNativeLoader(countingLoader);
  const avail = nativeMatmulAvailable();
  if (avail.available) return true;
  t.log(`native matmul not available (${avail.reason}): checking the js fallback instead`);
  t.false(existsSync(NATIVE_ADDON_PATH), `the addon ${NATIVE_ADDON_PATH} exists but does not load: ${avail.reason}`);
  const info = await initBackend('wasm', { matmul: 'auto' });
  t.is(info.matmul, 'js');
  await t.throwsAsync(() => initBackend('wasm', { matmul: 'native' }), { message: /apt-get install libopenblas-dev && npm rebuild/ });
  return false;
}

/** Runs `f` with the js and the native matmul (every product native); returns both host results. */
async function jsAndNative(t: ExecutionContext, f: () => tf.Tensor | tf.Tensor[]): Promise<{ js: Float32Array[]; native: Float32Array[] }> {
  const out: Record<string, Float32Array[]> = {};
  const prevMin = setNativeMinMacs(0);
  try {
    for (const matmul of ['js', 'native'] as const) {
      const info = await initBackend('wasm', { matmul, blasThreads: 1 });
      t.is(info.matmul, matmul);
      const before = tf.memory().numTensors;
      nativeCalls = 0;
      const r = tf.tidy(f);
      const list = Array.isArray(r) ? r : [r];
      out[matmul] = await Promise.all(list.map(async (x) => Float32Array.from(await x.data())));
      tf.dispose(list);
      t.is(tf.memory().numTensors, before, `${matmul}: leaked tensors`);
      if (matmul === 'js') t.is(nativeCalls, 0, 'the js matmul called the addon');
      else t.true(nativeCalls > 0, 'the native matmul was not called');
    }
  } finally {
    setNativeMinMacs(prevMin);
    await initBackend('wasm', { matmul: 'js' });
  }
  return { js: out.js!, native: out.native! };
}

function assertClose(t: ExecutionContext, r: { js: Float32Array[]; native: Float32Array[] }, what: string): void {
  r.js.forEach((ref, i) => {
    const e = relErr(r.native[i]!, ref);
    t.true(e <= TOL, `${what} [output ${i}]: relative error ${e.toExponential(2)} > ${TOL}`);
  });
}

const SIZES: [number, number, number][] = [
  [1, 7, 33],
  [7, 33, 129],
  [33, 129, 1],
  [129, 1, 7],
  [129, 129, 33],
  [33, 33, 33],
];

test.serial('native matmul: every transpose flag and odd size equals the js path', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  for (const [m, k, n] of SIZES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const r = await jsAndNative(t, () =>
          tf.matMul(randn(transA ? [k, m] : [m, k], 1), randn(transB ? [n, k] : [k, n], 2), transA, transB),
        ); // [m, n]
        t.deepEqual(r.js[0]!.length, m * n);
        assertClose(t, r, `${m}x${k}x${n} transA=${transA} transB=${transB}`);
      }
    }
  }
});

test.serial('native matmul: batched shapes (both, a only, b only, rank 4) equal the js path', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  const [m, k, n] = [7, 33, 129];
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const aS = transA ? [k, m] : [m, k];
      const bS = transB ? [n, k] : [k, n];
      const cases: [string, number[], number[]][] = [
        ['batch both', [3, ...aS], [3, ...bS]],
        ['batch a only', [3, ...aS], bS],
        ['batch a only (rank 2 b as [1, k, n])', [3, ...aS], [1, ...bS]],
        ['batch b only', aS, [3, ...bS]],
        ['rank 4', [2, 3, ...aS], [2, 3, ...bS]],
      ];
      for (const [name, sa, sb] of cases) {
        const r = await jsAndNative(t, () => tf.matMul(randn(sa, 3), randn(sb, 4), transA, transB)); // [..., m, n]
        assertClose(t, r, `${name} transA=${transA} transB=${transB}`);
      }
    }
  }
});

test.serial('native matmul: _FusedMatMul with a bias (and the default threshold) equals the js path', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  for (const [m, k, n] of [
    [33, 129, 7],
    [129, 33, 129],
    [1, 7, 33],
  ] as [number, number, number][]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const r = await jsAndNative(t, () => [
          tf.fused.matMul({
            a: randn(transA ? [k, m] : [m, k], 5) as tf.Tensor2D,
            b: randn(transB ? [n, k] : [k, n], 6) as tf.Tensor2D,
            bias: randn([n], 7),
            transposeA: transA,
            transposeB: transB,
          }), // [m, n]
          tf.fused.matMul({
            a: randn(transA ? [4, k, m] : [4, m, k], 8) as tf.Tensor3D,
            b: randn(transB ? [n, k] : [k, n], 9) as tf.Tensor2D as unknown as tf.Tensor3D,
            bias: randn([n], 10),
            transposeA: transA,
            transposeB: transB,
          }), // [4, m, n]
          tf.fused.matMul({
            a: randn([m, k], 11) as tf.Tensor2D,
            b: randn([k, n], 12) as tf.Tensor2D,
            bias: randn([n], 13),
            activation: 'relu',
          }), // [m, n] (stock path)
        ]);
        assertClose(t, r, `fused ${m}x${k}x${n} transA=${transA} transB=${transB}`);
      }
    }
  }
  // Default threshold: a small product stays on the SIMD kernel, a large one goes native.
  const info = await initBackend('wasm', { matmul: 'native', blasThreads: 1 });
  t.is(info.matmul, 'native');
  nativeCalls = 0;
  tf.tidy(() => tf.matMul(randn([8, 8], 1), randn([8, 8], 2)).dataSync());
  t.is(nativeCalls, 0, 'an 8x8x8 product went to the addon');
  tf.tidy(() => tf.matMul(randn([64, 64], 1), randn([64, 64], 2)).dataSync());
  t.is(nativeCalls, 1, 'a 64x64x64 product did not go to the addon');
  await initBackend('wasm', { matmul: 'js' });
});

test.serial('js matmul: _FusedMatMul of a batched a, an unbatched b and a bias equals the cpu backend', async (t) => {
  // The stock wasm fused kernel got this wrong when n % 4 != 0; the js path now computes product, then bias.
  const results: Float32Array[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend, { matmul: 'js' });
    const before = tf.memory().numTensors;
    results.push(
      tf.tidy(
        () =>
          tf.fused
            .matMul({
              a: randn([4, 33, 129], 14) as tf.Tensor3D,
              b: randn([129, 7], 15) as tf.Tensor2D as unknown as tf.Tensor3D,
              bias: randn([7], 16),
            })
            .dataSync() as Float32Array,
      ),
    ); // [4, 33, 7]
    t.is(tf.memory().numTensors, before);
  }
  const e = relErr(results[1]!, results[0]!);
  t.true(e <= TOL, `relative error ${e.toExponential(2)} > ${TOL}`);
  await initBackend('wasm', { matmul: 'js' });
});

test.serial('native matmul: a tiny GPT-2 forward and gradients equal the js path', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  await initBackend('wasm', { matmul: 'js' });
  const cfg = makeConfig({ vocabSize: 97, nPositions: 16, dModel: 32, nHeads: 4, nLayers: 2 });
  const model = CausalLM.random(cfg, { seed: 0, std: 0.1 });
  const [B, T] = [2, 9];
  const rng = new SeededRandom(5);
  const ids = tf.tensor2d(
    Int32Array.from({ length: B * T }, () => Math.floor(rng.next() * 97)),
    [B, T],
    'int32',
  ); // [B, T]
  const mask = tf.tensor2d(
    Int32Array.from({ length: B * T }, (_, i) => (i === T - 1 ? 0 : 1)),
    [B, T],
    'int32',
  ); // [B, T]
  const w = tf.tensor3d(rng.normalArray(B * T * 97, 1), [B, T, 97]); // [B, T, V]
  const vars = model.trainableVariables();
  const run = () => {
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(ids, mask);
      return tf.add(tf.sum(tf.mul(out.logits, w)), tf.sum(tf.square(out.values))) as tf.Scalar; // scalar
    }, vars);
    return [value, ...vars.map((v) => grads[v.name]!)];
  };
  // With the whole-block op (its GEMMs stay on the SIMD kernel) and without it (every product through tf.matMul).
  for (const fused of [true, false]) {
    const prev = setFusedBlockEnabled(fused);
    try {
      const r = await jsAndNative(t, run);
      t.is(r.js.length, vars.length + 1);
      assertClose(t, r, `GPT-2 loss and gradients (fused block ${fused})`);
    } finally {
      setFusedBlockEnabled(prev);
    }
  }
  tf.dispose([ids, mask, w]);
  model.dispose();
});

test.serial('native matmul: works in a worker thread with its own BLAS thread count', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  const [m, k, n] = [65, 130, 66];
  const a = new SeededRandom(21).normalArray(m * k, 1);
  const b = new SeededRandom(22).normalArray(k * n, 1);
  const backendUrl = pathToFileURL(path.resolve(process.cwd(), 'dist/core/model/wasm/backend.js')).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const tf = await import('@tensorflow/tfjs');
      const { initBackend } = await import(workerData.backendUrl);
      const info = await initBackend('wasm', { matmul: 'native', blasThreads: 1 });
      const c = tf.matMul(tf.tensor2d(workerData.a, [${m}, ${k}]), tf.tensor2d(workerData.b, [${k}, ${n}]));
      parentPort.postMessage({ info, c: await c.data() });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  const worker = new Worker(code, { eval: true, workerData: { a, b, backendUrl } });
  const msg = await new Promise<{ info?: { matmul: string; matmulDescription: string }; c?: Float32Array; error?: string }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  await worker.terminate();
  t.falsy(msg.error, msg.error);
  t.is(msg.info!.matmul, 'native');
  t.regex(msg.info!.matmulDescription, /sgemm.*1 thread$/);
  await initBackend('wasm', { matmul: 'js' });
  const ref = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync() as Float32Array);
  const e = relErr(msg.c!, ref);
  t.true(e <= TOL, `worker result: relative error ${e.toExponential(2)} > ${TOL}`);
});

test.serial("matmul selection: 'auto' falls back to js without the addon, 'native' then says how to build it", async (t) => {
  try {
    setNativeLoader(() => {
      throw new Error("Cannot find module '/nowhere/detox_blas.node'");
    });
    const auto = await initBackend('wasm', { matmul: 'auto' });
    t.is(auto.matmul, 'js');
    t.regex(auto.matmulDescription!, /native matmul unavailable: the addon is not built/);
    const err = await t.throwsAsync(() => initBackend('wasm', { matmul: 'native' }));
    t.regex(err!.message, /matmul 'native': the addon is not built/);
    t.regex(err!.message, /apt-get install libopenblas-dev && npm rebuild/);
    t.regex(err!.message, /node native\/build\.mjs/);
    t.regex(err!.message, /'js' and 'auto' need nothing/);
    // The default loader honours DETOX_NATIVE_ADDON (a missing file = a machine without the addon).
    process.env.DETOX_NATIVE_ADDON = path.resolve(process.cwd(), 'native/build/Release/missing.node');
    setNativeLoader();
    t.is((await initBackend('wasm')).matmul, 'js');
    await t.throwsAsync(() => initBackend('wasm', { matmul: 'native' }), { message: /the addon is not built/ });
  } finally {
    delete process.env.DETOX_NATIVE_ADDON;
    setNativeLoader();
  }
  // DETOX_MATMUL sets the default; a bad value or option names what is allowed.
  try {
    process.env.DETOX_MATMUL = 'js';
    t.is((await initBackend('wasm')).matmul, 'js');
    process.env.DETOX_MATMUL = 'fast';
    await t.throwsAsync(() => initBackend('wasm'), {
      message: /matmul "fast" \(from DETOX_MATMUL\) is not supported; use one of auto, native, js/,
    });
  } finally {
    delete process.env.DETOX_MATMUL;
  }
  await t.throwsAsync(() => initBackend('wasm', { matmul: 'auto', blasThreads: 0 }), {
    message: /blasThreads must be an integer in \[1, 1024\], got 0/,
  });
  await t.throwsAsync(() => initBackend('cpu', { matmul: 'native' }), { message: /applies to the 'wasm' backend only/ });
  const info = await initBackend('wasm');
  t.is(info.matmul, nativeMatmulAvailable().available ? 'native' : 'js');
  await initBackend('wasm', { matmul: 'js' });
});

test.serial('native addon: sgemm on Float32Arrays and the heap checks extents', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  const addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeBlasAddon;
  // [2, 3] · [3, 2] with beta = 1 accumulating into C.
  const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float32Array.from([7, 8, 9, 10, 11, 12]);
  const c = Float32Array.from([1, 1, 1, 1]);
  addon.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 1, c, 2);
  t.deepEqual([...c], [59, 65, 140, 155]);
  addon.sgemm(true, true, 2, 2, 3, 2, Float32Array.from([1, 4, 2, 5, 3, 6]), 2, Float32Array.from([7, 9, 11, 8, 10, 12]), 3, 0, c, 2);
  t.deepEqual([...c], [116, 128, 278, 308]);
  t.throws(() => addon.sgemm(false, false, 2, 2, 4, 1, a, 4, b, 2, 0, c, 2), { message: /extends past the end/ });
  const heap = new ArrayBuffer(64);
  t.throws(() => addon.sgemmHeap(heap, false, false, 4, 4, 4, 0, 4, 0, 0, 4, 0, 8, 4, 0, 1, -1, false), {
    message: /past the end of the heap/,
  });
  const cfg = addon.getConfig();
  t.regex(cfg.config, /OpenBLAS/);
});

test.serial('native matmul: the fast decoder (prefill and 8-row steps) equals its js path and calls the addon', async (t) => {
  if (!(await nativeOrFallback(t))) return;
  const cfg = makeConfig({ vocabSize: 101, nPositions: 32, dModel: 32, nHeads: 4, nLayers: 2 });
  const model = CausalLM.random(cfg, { seed: 3, std: 0.1 });
  const [B, P] = [8, 5];
  const logitsOf = () => {
    const dec = new FastDecoder(model, B, P, P + 3);
    const out = [
      dec.forward(
        Int32Array.from({ length: B * P }, (_, i) => (i * 7) % 101),
        new Int32Array(B * P).fill(1),
        P,
      ),
    ];
    for (let s = 0; s < 3 - 1; s++)
      out.push(
        dec.forward(
          Int32Array.from({ length: B }, (_, i) => (i * 3 + s) % 101),
          new Int32Array(B * (P + s + 1)).fill(1),
          1,
        ),
      );
    dec.dispose();
    return out;
  };
  const prevMin = setNativeMinMacs(0);
  try {
    await initBackend('wasm', { matmul: 'js' });
    nativeCalls = 0;
    const js = logitsOf();
    t.is(nativeCalls, 0, 'the js decoder called the addon');
    await initBackend('wasm', { matmul: 'native', blasThreads: 1 });
    const native = logitsOf();
    t.true(nativeCalls > 0, 'the native decoder did not call the addon');
    js.forEach((ref, i) => {
      const e = relErr(native[i]!, ref);
      t.true(e <= TOL, `decoder logits of call ${i}: relative error ${e.toExponential(2)} > ${TOL}`);
    });
  } finally {
    setNativeMinMacs(prevMin);
    await initBackend('wasm', { matmul: 'js' });
    model.dispose();
  }
});
