/**
 * The shared-memory layout of the trainable variables: one float32 slot per parameter, variables back to back in
 * `trainableVariables()` order. The same layout holds the weights main broadcasts and each worker's gradients.
 */
import * as tf from '@tensorflow/tfjs';

/** Name and shape of each trainable variable, in order (plain data: sent to the workers). */
export interface VarLayout {
  names: string[];
  shapes: number[][];
  /** Float offset of each variable. */
  offsets: number[];
  /** Total floats. */
  size: number;
}

/** The layout of `vars`. */
export function varLayout(vars: readonly tf.Variable[]): VarLayout {
  const offsets: number[] = [];
  let size = 0;
  for (const v of vars) {
    offsets.push(size);
    size += v.size;
  }
  return { names: vars.map((v) => v.name), shapes: vars.map((v) => [...v.shape]), offsets, size };
}

/**
 * Checks that `vars` match `layout` (same count, shapes in order); names are not compared, since each thread's
 * TensorFlow.js numbers its variables on its own. Returns a problem description, or null.
 */
export function layoutMismatch(layout: VarLayout, vars: readonly tf.Variable[]): string | null {
  if (vars.length !== layout.shapes.length) {
    return `the replica has ${vars.length} trainable variables, the main policy ${layout.shapes.length}`;
  }
  for (let i = 0; i < vars.length; i++) {
    const a = vars[i]!.shape.join(',');
    const b = layout.shapes[i]!.join(',');
    if (a !== b) return `trainable variable ${i} (${layout.names[i]}) is [${a}] in the replica but [${b}] on main`;
  }
  return null;
}

interface WasmBackendView {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number; dtype: string } | undefined };
}

/** A float32 tensor's storage on the wasm heap, read-only use (no copy); null on other backends. */
function heapView(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return null;
  const backend = tf.backend() as unknown as WasmBackendView;
  const data = backend.dataIdMap?.get(t.dataId);
  if (!data || typeof data.memoryOffset !== 'number') return null;
  return new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, t.size);
}

/** Copies the values of `vars` into `dst` (at `layout`'s offsets, from float `base`): straight from the wasm heap. */
export function writeVars(vars: readonly tf.Tensor[], layout: VarLayout, dst: Float32Array, base = 0): void {
  vars.forEach((v, i) => dst.set(heapView(v) ?? (v.dataSync() as Float32Array), base + layout.offsets[i]!));
}

/** Assigns `vars` from `src` (at `layout`'s offsets). */
export function readVars(vars: readonly tf.Variable[], layout: VarLayout, src: Float32Array): void {
  // The wasm backend copies a new tensor's values onto its heap at once; others (cpu) keep the array, so they get a
  // private copy and never hold a view of shared memory.
  const direct = tf.getBackend() === 'wasm';
  vars.forEach((v, i) => {
    const at = layout.offsets[i]!;
    const values = direct ? src.subarray(at, at + v.size) : src.slice(at, at + v.size);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape, 'float32')));
  });
}

/** FNV-1a over the bytes of every variable's float32 values: equal checksums = bit-identical weights. */
export function weightsChecksum(vars: readonly tf.Tensor[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const v of vars) {
    const bytes = new Uint8Array((v.dataSync() as Float32Array).slice().buffer);
    for (let i = 0; i < bytes.length; i++) {
      h1 = Math.imul(h1 ^ bytes[i]!, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ bytes[i]!, 0x811c9dc5 | 1) >>> 0;
    }
  }
  return `${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}
