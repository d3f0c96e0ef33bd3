/**
 * Subnormal floats are flushed to zero where the kernels produce them (GELU's backward tail, Adam's moments):
 * WebAssembly cannot set a CPU's flush-to-zero mode, and many x86-64 CPUs take a microcode assist on every float
 * operation that touches a subnormal.
 */
import test from 'ava';
import { assembleModule, FnBuilder, I32, V128 } from '../../core/model/wasm/asm.js';
import { subnormalsIn } from '../../core/model/wasm/subnormal-count.js';
import {
  buildAdam,
  buildGeluBwd,
  buildGeluFwd,
  buildRowsScaledExp,
  buildSoftmaxBwdRows,
  buildSoftmaxRows,
} from '../../core/model/wasm/fused.js';

const MIN_NORMAL = 1.1754943508222875e-38;
const isSubnormal = (x: number) => x !== 0 && Math.abs(x) < MIN_NORMAL;

interface Wasm {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (b: Uint8Array) => unknown;
  Instance: new (m: unknown, i: object) => { exports: unknown };
}
const W = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

function instantiate(fns: FnBuilder[]) {
  const memory = new W.Memory({ initial: 1 });
  const instance = new W.Instance(new W.Module(assembleModule(fns)), { env: { memory } });
  return { exports: instance.exports as Record<string, (...a: number[]) => void>, heap: new Float32Array(memory.buffer) };
}

test('vftz flushes exactly the subnormal lanes (either sign, and -0) to +0 and leaves every other float bit for bit', (t) => {
  const f = new FnBuilder('ftz', [I32, I32]);
  const [src, n] = [0, 1];
  const p = f.local(I32),
    v = f.local(V128);
  f.for(
    p,
    () => f.get(src),
    () => f.get(src).get(n).i32(4).mul().add(),
    16,
    () => {
      f.get(p).get(p).vload().set(v);
      f.vftz(v).vstore();
    },
  );
  const { exports, heap } = instantiate([f]);
  const values = [
    1e-39,
    -1e-39,
    1.4e-45,
    -MIN_NORMAL * 0.999,
    MIN_NORMAL,
    -MIN_NORMAL,
    0,
    -0,
    1,
    -2.5e-20,
    3.4e38,
    Infinity,
    -Infinity,
    NaN,
    1e-30,
    7,
  ];
  heap.set(values, 0);
  const before = Float32Array.from(heap.subarray(0, values.length));
  exports.ftz!(0, values.length);
  for (let i = 0; i < values.length; i++) {
    const got = heap[i]!;
    if (isSubnormal(before[i]!) || Object.is(before[i], -0)) t.true(Object.is(got, 0), `${before[i]} → +0`);
    else t.true(Object.is(got, before[i]!), `${before[i]} unchanged (got ${got})`);
  }
});

test('gelu_bwd returns 0, not a subnormal, far in the negative tail, and the same bits elsewhere', (t) => {
  const { exports, heap } = instantiate([buildGeluBwd()]);
  const xs = [-30, -25, -20, -16, -14, -12, -3, -0.5, 0, 0.7, 2, 9];
  const n = xs.length;
  heap.set(xs, 0);
  heap.set(
    xs.map(() => 1e-4),
    64,
  );
  exports.gelu_bwd!(0, 64 * 4, 128 * 4, n);
  const dx = Array.from(heap.subarray(128, 128 + n));
  t.false(dx.some(isSubnormal), `no subnormal in ${dx.join(', ')}`);
  t.is(dx[0], 0);
  t.true(dx[6]! < 0 && Math.abs(dx[11]! - 1e-4) < 1e-9, `ordinary inputs keep their derivative (${dx[6]}, ${dx[11]})`);
});

test('adam keeps no subnormal moment: a gradient of 1e-21 leaves v = 0 (g² underflows) and m normal', (t) => {
  const { exports, heap } = instantiate([buildAdam()]);
  const n = 8;
  const [w, g, m, v, wo] = [0, 16, 32, 48, 64];
  heap.fill(0.5, w, w + n);
  heap.set([1e-21, -1e-21, 1e-35, 3e-3, 0, 1, -1e-19, 2e-20], g);
  heap.fill(0, m, m + n);
  heap.fill(0, v, v + n);
  exports.adam!(w * 4, g * 4, m * 4, v * 4, wo * 4, n, 1e-3, 0.9, 0.999, 1e-8, 0.1, 0.001);
  const moments = Array.from(heap.subarray(m, m + n)).concat(Array.from(heap.subarray(v, v + n)));
  t.false(moments.some(isSubnormal), moments.join(', '));
  t.is(heap[v]!, 0);
  t.true(Math.abs(heap[m]! - 1e-22) < 1e-28);
  t.true(Math.abs(heap[v + 3]! - 0.001 * 9e-6) < 1e-12, 'ordinary moments are computed as before');
});

test('softmax_rows: a masked score (bias -1e9) has probability exactly 0, and no probability is subnormal', (t) => {
  const { exports, heap } = instantiate([buildSoftmaxRows()]);
  const cols = 7;
  // Row 0: causal mask after the first 3 keys; row 1: scores spread over 120 nats (tails underflow).
  heap.set([0.3, -0.2, 1.1, 5, 5, 5, 5], 0);
  heap.set([0, -20, -40, -60, -80, -100, -120], cols);
  heap.set([0, 0, 0, -1e9, -1e9, -1e9, -1e9], 64);
  heap.set([0, 0, 0, 0, 0, 0, 0], 64 + cols);
  exports.softmax_rows!(0, 128 * 4, 2, cols, cols, cols, 1, 64 * 4, cols);
  const p = Array.from(heap.subarray(128, 128 + 2 * cols));
  t.deepEqual(p.slice(3, 7), [0, 0, 0, 0]);
  t.false(p.some(isSubnormal), p.join(', '));
  t.true(Math.abs(p.slice(0, 3).reduce((a, b) => a + b) - 1) < 1e-6);
  t.true(p[7 + 4]! > 0 && p[7 + 4]! < 1e-34, 'a normal tail value is kept');
  t.is(p[7 + 6], 0, 'exp(-120) underflows to 0, not to a subnormal');
});

test('softmax_bwd_rows, rows_scaled_exp and gelu_fwd write no subnormal', (t) => {
  const { exports, heap } = instantiate([buildSoftmaxBwdRows(), buildRowsScaledExp(), buildGeluFwd()]);
  const n = 8;
  heap.set([0.5, 0.5 - 1e-30, 1e-30, 2e-38, 0, 0, 0, 0], 0); // p with tiny tails
  heap.set([1, -1, 3e-9, 2, 0.5, 0.5, 0.5, 0.5], 16); // dp
  exports.softmax_bwd_rows!(0, 16 * 4, 32 * 4, 1, n, n, n, n, 0.125);
  const ds = Array.from(heap.subarray(32, 32 + n));
  t.false(ds.some(isSubnormal), `ds ${ds.join(', ')}`);
  t.true(ds[0]! !== 0 && ds[1]! !== 0, 'ordinary gradients are kept');
  heap.set([0, -80, -86, -87, -100, 3, -1, -50], 64); // logits
  heap.set([3], 80); // shift (the row max)
  heap.set([0.5], 81); // coef
  exports.rows_scaled_exp!(64 * 4, 80 * 4, 81 * 4, 96 * 4, 1, n);
  const e = Array.from(heap.subarray(96, 96 + n));
  t.false(e.some(isSubnormal), `exp ${e.join(', ')}`);
  t.true(Math.abs(e[5]! - 0.5) < 1e-6 && Math.abs(e[0]! - 0.5 * Math.exp(-3)) < 1e-7);
  heap.set([-30, -12, -10.5, -9, -3, 0, 1, 40], 112);
  exports.gelu_fwd!(112 * 4, 128 * 4, n);
  const g = Array.from(heap.subarray(128, 128 + n));
  t.false(g.some(isSubnormal), `gelu ${g.join(', ')}`);
  t.is(g[7], 40);
  t.true(Math.abs(g[4]! + 0.0036) < 1e-4, `gelu(-3) ≈ -0.0036 (${g[4]})`);
});

test('the diagnostic counter finds exactly the subnormal values of a heap range', (t) => {
  const heap = new ArrayBuffer(64);
  new Float32Array(heap).set([1e-39, -1e-40, 0, -0, 1, MIN_NORMAL, 1.4e-45, NaN, 5e-39, 3], 0);
  t.is(subnormalsIn(heap, 0, 10), 4);
  t.is(subnormalsIn(heap, 8, 4), 0);
});
