/**
 * The parts of tfjs-backend-wasm's BackendWasm the kernels touch (kernels.ts, simd.ts, fused-ops.ts, ...): a type
 * only, kept in its own module so the SIMD kernels (simd.ts) and the kernel overrides (kernels.ts, which call them)
 * both name it without importing each other.
 */
import type * as tf from '@tensorflow/tfjs';

type DataId = object;

/** The parts of tfjs-backend-wasm's BackendWasm this module touches. */
export interface WasmBackendLike {
  wasm: {
    HEAPU8: Uint8Array;
    asm: { memory: { buffer: ArrayBuffer; grow(pages: number): number } };
    cwrap: (name: string, ret: null, args: string[]) => (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
    _malloc(n: number): number;
    _free(p: number): void;
  };
  dataIdMap: { get(id: DataId): { id: number; memoryOffset: number; shape: number[]; dtype: string; refCount: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}
