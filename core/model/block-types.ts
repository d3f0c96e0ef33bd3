/**
 * The tensors one transformer block works on: its weights and the per-forward attention context. Types only, shared
 * by the plain block (transformer.ts) and the fused wasm block (fused-block.ts, which transformer.ts dispatches to).
 */
import type * as tf from '@tensorflow/tfjs';

/** Weight tensors of one block, in the engine's [in, out] layout. */
export interface BlockWeights {
  ln1G: tf.Tensor1D;
  ln1B: tf.Tensor1D;
  /** [d, 3d] fused q|k|v projection. */
  qkvW: tf.Tensor2D;
  /** [3d] or undefined (GPT-Neo). */
  qkvB?: tf.Tensor1D;
  outW: tf.Tensor2D;
  /** Absent in GPT-J. */
  outB?: tf.Tensor1D;
  /** Absent in GPT-J (parallel block: ln_1 feeds the MLP too). */
  ln2G?: tf.Tensor1D;
  ln2B?: tf.Tensor1D;
  fcW: tf.Tensor2D;
  projW: tf.Tensor2D;
  /** Absent in OPT with enable_bias false. */
  fcB?: tf.Tensor1D;
  projB?: tf.Tensor1D;
}

/** Per-forward attention context shared by every block. */
export interface AttentionContext {
  batch: number;
  /** Number of new positions in this forward. */
  queryLen: number;
  /** Number of key positions (cached + new). */
  keyLen: number;
  /**
   * Additive bias for global layers, [B, 1, T, Tk] or [B, 1, 1, Tk] (0 allowed, -1e9 masked; broadcast over heads);
   * with ALiBi [B, H, T, Tk] or [B, H, 1, Tk] (one bias per head).
   */
  globalBias: tf.Tensor4D;
  /** Additive bias for local layers (same shapes); present when the model has local layers. */
  localBias?: tf.Tensor4D;
  /** Rotary tables for the new positions, [B*T, 1, head_dim] each (cos 1 / sin 0 past rotary_dim); GPT-J only. */
  rotary?: { cos: tf.Tensor3D; sin: tf.Tensor3D };
}
