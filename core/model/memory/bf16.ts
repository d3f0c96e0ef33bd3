/**
 * bfloat16 storage for frozen weights and bf16 rounding of trainable ones. TensorFlow.js has no bfloat16 dtype, so
 * a packed weight lives on the host as the upper 16 bits of each float32 (round to nearest even, as
 * safetensors.ts's f32ToBf16) and is expanded to a float32 tensor when a forward uses it.
 */
import * as tf from '@tensorflow/tfjs';

/** A weight held as packed bfloat16 bits on the host. */
export interface PackedBf16 {
  shape: number[];
  /** One bfloat16 per element (the float32's upper 16 bits after rounding). */
  bits: Uint16Array;
}

/** bfloat16 bits of every float32 (round to nearest even; NaN stays NaN). */
export function packBf16(data: Float32Array): Uint16Array {
  const u32 = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < u32.length; i++) {
    const x = u32[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) out[i] = ((x >>> 16) | 0x40) & 0xffff;
    else out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** float32 values of packed bfloat16 bits (exact). */
export function unpackBf16(bits: Uint16Array): Float32Array {
  const u32 = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i]! << 16;
  return new Float32Array(u32.buffer);
}

/** Rounds float32 values to the nearest bfloat16 in place (they stay float32 numbers). */
export function roundToBf16InPlace(data: Float32Array): Float32Array {
  const u32 = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < u32.length; i++) {
    const x = u32[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) u32[i] = (x | 0x400000) & 0xffff0000;
    else u32[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16;
  }
  return data;
}

/** Packs a tensor's values. */
export function packTensorBf16(t: tf.Tensor): PackedBf16 {
  const data = Float32Array.from(t.dataSync() as Float32Array);
  return { shape: [...t.shape], bits: packBf16(data) };
}

/**
 * The float32 tensor of a packed weight (a new tensor in the current scope).
 * @returns same shape as the packed weight
 */
export function expandBf16(p: PackedBf16): tf.Tensor {
  return tf.tensor(unpackBf16(p.bits), p.shape, 'float32'); // shape of p
}

/** Rounds every variable's values to bfloat16 (the pure-bf16 regime after each optimiser step). */
export function roundVariablesToBf16(vars: readonly tf.Variable[]): void {
  for (const v of vars) {
    const data = roundToBf16InPlace(Float32Array.from(v.dataSync() as Float32Array));
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32'))); // shape of v
  }
}
