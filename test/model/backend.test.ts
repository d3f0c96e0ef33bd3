/**
 * Backend selection and the three wasm traps: each fix is checked on wasm against the cpu backend.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend, isWasmOom, withWasmMemoryGuard } from '../../core/model/wasm/backend.js';
import { stockWasmBatchMatMul } from '../../core/model/wasm/kernels.js';
import { SeededRandom } from '../../core/model/seeded-random.js';
import { maxAbsDiff } from '../fixtures/model/helpers.js';

function randn(shape: number[], seed: number): { shape: number[]; data: Float32Array } {
  return {
    shape,
    data: new SeededRandom(seed).normalArray(
      shape.reduce((a, b) => a * b, 1),
      1,
    ),
  };
}

/** Runs `f` on the cpu and the wasm backend with the same host inputs; returns both host results. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; wasm: Float32Array[] }> {
  const out: Record<string, Float32Array[]> = {};
  for (const b of ['cpu', 'wasm'] as const) {
    await initBackend(b);
    const before = tf.memory().numTensors;
    const r = tf.tidy(f);
    const list = Array.isArray(r) ? r : [r];
    out[b] = await Promise.all(list.map(async (x) => Float32Array.from(await x.data())));
    tf.dispose(list);
    if (tf.memory().numTensors !== before) throw new Error(`${b}: leaked ${tf.memory().numTensors - before} tensors`);
  }
  return { cpu: out.cpu!, wasm: out.wasm! };
}

test.serial('initBackend: wasm is the default and registers the kernel fixes', async (t) => {
  const info = await initBackend();
  t.is(info.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.deepEqual([...(info.patchedKernels ?? [])].sort(), [
    'BatchMatMul',
    'GatherV2',
    'Identity',
    'OneHot',
    'Sum',
    'Transpose',
    'UnsortedSegmentSum',
    '_FusedMatMul',
  ]);
  t.truthy(tf.getKernel('UnsortedSegmentSum', 'wasm'));
});

test.serial('initBackend: missing native backends fail with an install hint', async (t) => {
  for (const name of ['tensorflow', 'tensorflow-gpu'] as const) {
    const err = await t.throwsAsync(() => initBackend(name));
    const pkg = name === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
    t.regex(err!.message, new RegExp(`optional package ${pkg.replace('/', '\\/')}`));
    t.regex(err!.message, /npm install/);
    t.regex(err!.message, /default backend 'wasm'/);
  }
  const bad = await t.throwsAsync(() => initBackend('webgpu' as never));
  t.regex(bad!.message, /not supported; use one of wasm, cpu, tensorflow, tensorflow-gpu/);
});

test.serial('trap (a): transposed and batched matMul on wasm equal cpu, forward and gradients', async (t) => {
  const a = randn([3, 5, 7], 1);
  const b = randn([3, 7, 4], 2);
  const a2 = randn([6, 7], 3);
  const w = randn([7, 9], 4);
  const { cpu, wasm } = await onBoth(() => {
    const A = tf.tensor(a.data, a.shape);
    const Bm = tf.tensor(b.data, b.shape);
    const A2 = tf.tensor(a2.data, a2.shape);
    const W = tf.tensor(w.data, w.shape);
    const At = tf.transpose(A, [0, 2, 1]);
    const Bt = tf.transpose(Bm, [0, 2, 1]);
    const outs: tf.Tensor[] = [
      tf.matMul(A, Bm), // batched, plain
      tf.matMul(At, Bm, true, false), // transposeA
      tf.matMul(A, Bt, false, true), // transposeB
      tf.matMul(At, Bt, true, true), // both
      tf.matMul(tf.reshape(A2, [2, 3, 7]), W), // rank 3 × rank 2 (folded to 2-D)
      tf.matMul(A2, tf.transpose(W), false, true),
    ];
    // Gradients: autodiff emits matMul with transpose flags.
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))))([A, Bm]);
    const g2 = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y, false, true))))([A2, tf.transpose(W)]);
    return [...outs, ...g, ...g2];
  });
  t.is(cpu.length, 10);
  for (let i = 0; i < cpu.length; i++) t.true(maxAbsDiff(cpu[i]!, wasm[i]!) < 1e-4, `output ${i} differs`);
});

test.serial('trap (a): transposed matMul on wasm runs on the fast path (>= 4x the stock kernel)', async (t) => {
  await initBackend('wasm');
  const n = 384;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const time = (f: () => tf.Tensor): number => {
    tf.dispose(f());
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) tf.dispose(f());
    return (performance.now() - t0) / 3;
  };
  const patched = time(() => tf.matMul(a, b, true, false));
  const stock = stockWasmBatchMatMul()!;
  const backend = tf.backend();
  const stockTime = time(() => {
    const info = stock.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: true, transposeB: false } }) as tf.TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info);
  });
  t.true(stockTime / patched >= 4, `patched ${patched.toFixed(1)} ms vs stock ${stockTime.toFixed(1)} ms`);
  tf.dispose([a, b]);
});

test.serial('trap (b): gather gradient (UnsortedSegmentSum) on wasm equals cpu', async (t) => {
  const table = randn([11, 6], 5);
  const idx = [3, 0, 3, 10, 7, 3, 0];
  const { cpu, wasm } = await onBoth(() => {
    const T = tf.tensor(table.data, table.shape);
    const I = tf.tensor1d(idx, 'int32');
    const up = tf.tensor(randn([7, 6], 6).data, [7, 6]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, I), up)))(T);
    const seg = tf.unsortedSegmentSum(tf.tensor(randn([5, 3], 7).data, [5, 3]), tf.tensor1d([2, 0, 2, 4, 1], 'int32'), 6);
    return [g, seg];
  });
  for (let i = 0; i < cpu.length; i++) t.true(maxAbsDiff(cpu[i]!, wasm[i]!) < 1e-6, `output ${i} differs`);
  // Rows never gathered get zero gradient; row 3 (gathered three times) is non-zero.
  t.is(wasm[0]![1 * 6], 0);
  t.not(wasm[0]![3 * 6], 0);
});

test.serial('trap (c): oneHot float32 on wasm equals cpu', async (t) => {
  const { cpu, wasm } = await onBoth(() => [
    tf.oneHot(tf.tensor1d([0, 2, 1, 4], 'int32'), 5, 1, 0, 'float32'),
    tf.oneHot(
      tf.tensor2d(
        [
          [1, 3],
          [0, 0],
        ],
        undefined,
        'int32',
      ),
      4,
      2.5,
      -1,
      'float32',
    ),
    tf.cast(tf.oneHot(tf.tensor1d([3, 1], 'int32'), 4), 'float32'),
  ]);
  for (let i = 0; i < cpu.length; i++) t.deepEqual(Array.from(wasm[i]!), Array.from(cpu[i]!));
  t.deepEqual(Array.from(wasm[0]!.slice(0, 5)), [1, 0, 0, 0, 0]);
});

test.serial('transpose of the last two axes on wasm equals cpu (float32 and int32)', async (t) => {
  const x = randn([2, 3, 37, 45], 9);
  const { cpu, wasm } = await onBoth(() => [
    tf.transpose(tf.tensor(x.data, x.shape), [0, 1, 3, 2]),
    tf.cast(
      tf.transpose(
        tf.tensor2d(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          undefined,
          'int32',
        ),
      ),
      'float32',
    ),
    tf.transpose(tf.tensor(x.data, x.shape), [0, 2, 1, 3]),
  ]);
  for (let i = 0; i < cpu.length; i++) t.deepEqual(Array.from(wasm[i]!), Array.from(cpu[i]!));
});

test.serial('wasm out-of-memory errors are rethrown with what ran out and what to try', async (t) => {
  t.true(isWasmOom(new RangeError('memory access out of bounds')));
  t.false(isWasmOom(new Error('shape mismatch')));
  const err = t.throws(() =>
    withWasmMemoryGuard('policy forward (batch 512)', () => {
      throw new RangeError('memory access out of bounds');
    }),
  );
  t.regex(err!.message, /policy forward \(batch 512\)/);
  t.regex(err!.message, /4 GiB/);
  t.regex(err!.message, /smaller batch/);
  t.regex(err!.message, /memory strategies/);
  // Other errors pass through untouched.
  const other = t.throws(() =>
    withWasmMemoryGuard('x', () => {
      throw new Error('plain failure');
    }),
  );
  t.is(other!.message, 'plain failure');
  // An allocation the host cannot even stage (4.6 GB) fails with the same guidance.
  await initBackend('wasm');
  const big = t.throws(() => withWasmMemoryGuard('huge tensor', () => tf.zeros([1100, 1024, 1024])));
  t.regex(big!.message, /huge tensor/);
  t.regex(big!.message, /4 GiB/);
});
