/**
 * A diagnostic for CPUs that slow down on subnormal floats (see fused.ts): with `DETOX_COUNT_SUBNORMALS=<file>`
 * in the environment, every matrix product counts how many of the values it reads (A and B) are subnormal, by
 * shape, and the counts are written to <file> as JSON when the process exits. `npm run bench -- subnormals` runs two
 * PPO steps of the embedded default this way and prints them. Off (one boolean test per product) otherwise.
 */
import fs from 'node:fs';

const target = process.env.DETOX_COUNT_SUBNORMALS;

/** Whether products are being counted in this process. */
export const countingSubnormals = Boolean(target);

interface ShapeCount { calls: number; values: number; subnormal: number }
const byShape = new Map<string, ShapeCount>();

if (target) {
  process.on('exit', () => {
    const shapes = Object.fromEntries([...byShape].sort((a, b) => b[1].subnormal - a[1].subnormal));
    const total = [...byShape.values()].reduce((s, c) => ({ values: s.values + c.values, subnormal: s.subnormal + c.subnormal }), { values: 0, subnormal: 0 });
    fs.writeFileSync(target, `${JSON.stringify({ ...total, shapes }, null, 2)}\n`);
  });
}

/** Subnormal floats among `count` floats at heap byte offset `offset`. */
export function subnormalsIn(heap: ArrayBuffer, offset: number, count: number): number {
  const bits = new Uint32Array(heap, offset, count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) n++;
  }
  return n;
}

/** Counts the operands of one batched product (strides in elements; 0 = broadcast, read once). */
export function countProduct(heap: ArrayBuffer, shape: string, batch: number,
  a: number, aCount: number, strideA: number, b: number, bCount: number, strideB: number): void {
  const c = byShape.get(shape) ?? { calls: 0, values: 0, subnormal: 0 };
  for (const [base, count, stride] of [[a, aCount, strideA], [b, bCount, strideB]] as const) {
    for (let i = 0; i < (stride === 0 ? 1 : batch); i++) {
      c.values += count;
      c.subnormal += subnormalsIn(heap, base + 4 * i * stride, count);
    }
  }
  c.calls++;
  byShape.set(shape, c);
}
