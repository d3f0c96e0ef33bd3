/**
 * What a benchmark figure depends on, printed before any figure: the CPU model and the instruction-set flags that
 * change which kernels run (x86-64 `avx2`, `fma`, `avx512f`), the OpenBLAS build and the kernel it picked for this
 * CPU (when the native matmul addon is built), and the wasm features the engine's kernels use.
 */
import fs from 'node:fs';
import os from 'node:os';
import { nativeMatmulAvailable } from '../core/model/wasm/native-matmul.js';
import { kernelModuleBytes } from '../core/model/wasm/simd.js';
import v8 from 'node:v8';

const FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16', 'amx_tile', 'neon', 'asimd'];

/** CPU model, core count and the flags of {@link FLAGS} the CPU has (from /proc/cpuinfo where it exists). */
export function cpuDescription(): { model: string; cores: number; flags: string[] } {
  const cpus = os.cpus();
  let flags: string[] = [];
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^(flags|Features)\s*:(.*)$/m.exec(info)?.[2] ?? '';
    const have = new Set(line.trim().split(/\s+/));
    flags = FLAGS.filter((f) => have.has(f));
  } catch {
    // not Linux: the model name is all there is
  }
  return { model: cpus[0]?.model.trim() ?? 'unknown', cores: cpus.length, flags };
}

/** Whether this engine compiles relaxed-SIMD FMA (what the GEMM kernels use when it does). */
function wasmFma(): boolean {
  const W = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
  const bytes = kernelModuleBytes(true);
  if (W.validate(bytes)) return true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return W.validate(bytes);
}

/** The lines printed at the top of `npm run bench`. */
export function machineLines(): string[] {
  const cpu = cpuDescription();
  const blas = nativeMatmulAvailable();
  return [
    `cpu: ${cpu.model} (${cpu.cores} cores; ${cpu.flags.length ? cpu.flags.join(' ') : 'no flags read'})`,
    `native matmul: ${blas.available ? blas.config : `not available (${blas.reason})`}`,
    `wasm kernels: SIMD128${wasmFma() ? ' + relaxed-SIMD FMA' : ' (no relaxed-SIMD FMA: mul + add)'}; node ${process.version}`,
  ];
}
