/**
 * Kernel throughput: GFLOP/s of each matrix-product implementation on the products model M's PPO step runs
 * (batch 8 × 64 tokens, d 256, vocab 4096) and on one decode step's (8 rows), next to torch.mm in the same
 * invocation and to the CPU's single-core peak for 128-bit and for the widest vectors it has. This is the bound
 * behind every engine figure: a step cannot beat the products it is made of.
 *
 * Run: `npm run bench -- kernels`.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { initBackend } from '../core/model/wasm/backend.js';
import { nativeMatmulAvailable } from '../core/model/wasm/native-matmul.js';
import { SeededRandom } from '../core/model/seeded-random.js';
import { cpuDescription } from './machine.js';
import { median } from './engine.js';

/** [label, m, k, n, transA, transB]: the products of one M train step and one decode step. */
const KERNEL_SHAPES: [string, number, number, number, boolean, boolean][] = [
  ['qkv  512x256 · 256x768', 512, 256, 768, false, false],
  ['mlp up  512x256 · 256x1024', 512, 256, 1024, false, false],
  ['mlp down  512x1024 · 1024x256', 512, 1024, 256, false, false],
  ['dW  (512x256)ᵀ · 512x1024', 256, 512, 1024, true, false],
  ['LM head  504x256 · (4096x256)ᵀ', 504, 256, 4096, false, true],
  ['LM head dh  504x4096 · 4096x256', 504, 4096, 256, false, false],
  ['decode qkv  8x256 · 256x768', 8, 256, 768, false, false],
  ['decode LM head  8x256 · (4096x256)ᵀ', 8, 256, 4096, false, true],
];

/** Median GFLOP/s of tf.matMul for one shape on the current backend settings (~0.3 s of calls). */
function measure(m: number, k: number, n: number, transA: boolean, transB: boolean): number {
  const rng = new SeededRandom(m * 7 + k * 3 + n);
  const a = tf.tensor2d(rng.normalArray(m * k, 1), transA ? [k, m] : [m, k]);
  const b = tf.tensor2d(rng.normalArray(k * n, 1), transB ? [n, k] : [k, n]);
  const once = () => {
    const c = tf.matMul(a, b, transA, transB);
    c.dataSync();
    c.dispose();
  };
  for (let i = 0; i < 3; i++) once();
  const t0 = performance.now();
  once();
  const one = Math.max(performance.now() - t0, 0.01);
  const inner = Math.max(1, Math.round(30 / one));
  const samples: number[] = [];
  for (let s = 0; s < 9; s++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) once();
    samples.push((performance.now() - t) / inner);
  }
  tf.dispose([a, b]);
  return (2 * m * k * n) / (median(samples) * 1e6);
}

/**
 * torch.mm GFLOP/s for the same shapes with `threads` BLAS threads, or a note why not. Debian's torch runs OpenBLAS,
 * whose thread count torch.set_num_threads does not set: OPENBLAS_NUM_THREADS does.
 */
function torchColumn(threads: number): { gflops?: number[]; note?: string } {
  const python = '/usr/bin/python3';
  if (!fs.existsSync(python)) return { note: `PyTorch column skipped: ${python} not found` };
  const script = `
import json, sys, time, statistics, torch
torch.set_num_threads(int(sys.argv[2]))
out = []
for (m, k, n, ta, tb) in json.loads(sys.argv[1]):
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    for _ in range(3): torch.mm(a, b)
    t0 = time.perf_counter(); torch.mm(a, b); one = max(time.perf_counter() - t0, 1e-5)
    inner = max(1, round(0.03 / one)); s = []
    for _ in range(9):
        t = time.perf_counter()
        for _ in range(inner): torch.mm(a, b)
        s.append((time.perf_counter() - t) / inner)
    out.append(2 * m * k * n / statistics.median(s) / 1e9)
print(json.dumps(out))
`;
  const shapes = KERNEL_SHAPES.map(([, m, k, n, ta, tb]) => [m, k, n, ta, tb]);
  const r = spawnSync(python, ['-c', script, JSON.stringify(shapes), String(threads)], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) return { note: `PyTorch column skipped: ${(r.stderr || '').trim().split('\n').pop()}` };
  return { gflops: JSON.parse(r.stdout.trim().split('\n').pop()!) as number[] };
}

/** The CPU's nominal clock in GHz from /proc/cpuinfo or os.cpus(), if known. */
function clockGHz(): number | undefined {
  try {
    const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    if (mhz) return Number(mhz) / 1000;
  } catch {
    // not Linux
  }
  return undefined;
}

/** Prints GFLOP/s per shape for the js GEMM, OpenBLAS (1 thread) and torch.mm (1 thread), with the peaks. */
export async function benchKernels(): Promise<void> {
  const cpu = cpuDescription();
  const ghz = clockGHz();
  // Two FMA ports: 2 × lanes × 2 flops per cycle.
  const wide = cpu.flags.includes('avx512f') ? 16 : cpu.flags.includes('avx2') ? 8 : 4;
  if (ghz) {
    console.log(
      `single-core peak at ${ghz.toFixed(2)} GHz (2 FMA ports): 128-bit (wasm SIMD) ${(ghz * 16).toFixed(0)} GFLOP/s, ` +
        `${wide * 32}-bit ${(ghz * 4 * wide).toFixed(0)} GFLOP/s`,
    );
  }
  const modes: ('js' | 'native')[] = nativeMatmulAvailable().available ? ['js', 'native'] : ['js'];
  const cols = new Map<string, number[]>();
  for (const mode of modes) {
    await initBackend('wasm', { matmul: mode, workers: 1, blasThreads: 1 });
    cols.set(
      mode,
      KERNEL_SHAPES.map(([, m, k, n, ta, tb]) => measure(m, k, n, ta, tb)),
    );
  }
  if (modes.includes('native')) {
    await initBackend('wasm', { matmul: 'native', workers: 1, blasThreads: 2 });
    cols.set(
      'native2',
      KERNEL_SHAPES.map(([, m, k, n, ta, tb]) => measure(m, k, n, ta, tb)),
    );
    await initBackend('wasm', { matmul: 'auto', workers: 1 });
  }
  const torch1 = torchColumn(1);
  const torch2 = torchColumn(2);
  const names: Record<string, string> = { js: 'wasm GEMM', native: 'OpenBLAS', native2: 'OpenBLAS×2' };
  const keys = [...cols.keys()];
  console.log(`  GFLOP/s; every column 1 thread except ×2 (2 threads)`);
  console.log(
    `  ${'product'.padEnd(38)} ${keys.map((m) => names[m]!.padStart(10)).join(' ')} ${'torch'.padStart(8)} ${'torch×2'.padStart(8)}`,
  );
  const fmt = (x: number | undefined, w: number) => (x === undefined ? '-' : x.toFixed(1)).padStart(w);
  KERNEL_SHAPES.forEach(([label], i) => {
    console.log(
      `  ${label.padEnd(38)} ${keys.map((m) => fmt(cols.get(m)![i], 10)).join(' ')} ${fmt(torch1.gflops?.[i], 8)} ${fmt(torch2.gflops?.[i], 8)}`,
    );
  });
  for (const note of new Set([torch1.note, torch2.note])) if (note) console.log(`  ${note}`);
}
