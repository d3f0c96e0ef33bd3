/**
 * Key/value cache for incremental decoding: per layer the keys and values of every position seen so far.
 *
 * Two layouts, chosen by the forward that fills it:
 * - fused (wasm kernels): per layer one preallocated key and one value buffer [B, capacity, d], written in place
 *   at the next free rows (no copies of the past per step); grown by doubling when full;
 * - composite (other backends): per layer [B, H, T, hd] tensors extended by concatenation.
 */
import * as tf from '@tensorflow/tfjs';
import { heapOffset, type WasmBackendLike } from './wasm/kernels.js';

/** Keys and values of one layer (composite layout). */
interface LayerKV {
  /** [B, H, Tpast, hd] */
  k: tf.Tensor4D;
  /** [B, H, Tpast, hd] */
  v: tf.Tensor4D;
}

/** Key and value buffers of one layer (fused layout): [B, capacity, d], rows [0, length) valid. */
interface LayerBuffers {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}

/**
 * Holds the cache across forward calls; call {@link KVCache.dispose} when done.
 */
export class KVCache {
  /** Composite layout: one entry per layer; undefined before the first forward. */
  readonly layers: (LayerKV | undefined)[];
  /** Fused layout: one entry per layer; undefined before the first forward. */
  readonly buffers: (LayerBuffers | undefined)[];
  /** Number of positions cached. */
  length = 0;
  /** Rows to preallocate in the fused layout (e.g. prompt length + max new tokens). */
  readonly capacity?: number;

  constructor(nLayers: number, opts: { capacity?: number } = {}) {
    this.layers = new Array<LayerKV | undefined>(nLayers).fill(undefined);
    this.buffers = new Array<LayerBuffers | undefined>(nLayers).fill(undefined);
    this.capacity = opts.capacity;
  }

  /** Stores the new keys/values of layer `i` (composite layout; kept), disposing the previous ones. */
  set(i: number, kv: LayerKV): void {
    const old = this.layers[i];
    this.layers[i] = { k: tf.keep(kv.k), v: tf.keep(kv.v) };
    if (old) {
      if (old.k !== kv.k) old.k.dispose();
      if (old.v !== kv.v) old.v.dispose();
    }
  }

  /**
   * Buffers of layer `i` (fused layout) able to hold `needed` rows for batch `b` and width `d`, allocated or
   * grown (existing rows copied) as needed. The buffers are owned by the cache and written in place.
   */
  buffersFor(i: number, b: number, needed: number, d: number): LayerBuffers {
    const cur = this.buffers[i];
    if (cur && cur.k.shape[0] !== b) {
      throw new Error(`KVCache: batch size changed from ${cur.k.shape[0]} to ${b}; use a new cache per batch`);
    }
    if (cur && cur.k.shape[1] >= needed) return cur;
    const cap = Math.max(needed, this.capacity ?? 0, cur ? 2 * cur.k.shape[1] : 0);
    const next: LayerBuffers = tf.tidy(() => ({ k: tf.zeros([b, cap, d]) as tf.Tensor3D, v: tf.zeros([b, cap, d]) as tf.Tensor3D }));
    tf.keep(next.k);
    tf.keep(next.v);
    if (cur) {
      const backend = tf.backend() as unknown as WasmBackendLike;
      const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
      const oldCap = cur.k.shape[1];
      for (const [src, dst] of [
        [cur.k, next.k],
        [cur.v, next.v],
      ] as const) {
        const so = heapOffset(backend, src) >> 2;
        const dOff = heapOffset(backend, dst) >> 2;
        for (let r = 0; r < b; r++) heap.copyWithin(dOff + r * cap * d, so + r * oldCap * d, so + (r * oldCap + this.length) * d);
      }
      cur.k.dispose();
      cur.v.dispose();
    }
    this.buffers[i] = next;
    return next;
  }

  /** Frees every cached tensor. */
  dispose(): void {
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      if (l) {
        l.k.dispose();
        l.v.dispose();
      }
      this.layers[i] = undefined;
      const buf = this.buffers[i];
      if (buf) {
        buf.k.dispose();
        buf.v.dispose();
      }
      this.buffers[i] = undefined;
    }
    this.length = 0;
  }
}
