/**
 * Worker thread of the parallel GEMM (threads.ts): instantiates the GEMM on the shared memory and runs the
 * row blocks the main thread hands it through a shared control block, until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';

interface WorkerInit {
  bytes: Uint8Array;
  memory: unknown;
  control: SharedArrayBuffer;
}

interface WasmNs {
  Module: new (b: Uint8Array) => unknown;
  Instance: new (m: unknown, i: Record<string, Record<string, unknown>>) => { exports: Record<string, (...a: number[]) => void> };
}

const init = workerData as WorkerInit;
const W = (globalThis as unknown as { WebAssembly: WasmNs }).WebAssembly;
const instance = new W.Instance(new W.Module(init.bytes), { env: { memory: init.memory } });
const gemm = instance.exports.gemm!;
const ctrl = new Int32Array(init.control);
parentPort?.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, 0, seen);
  seen = Atomics.load(ctrl, 0);
  if (ctrl[2] === 1) break;
  gemm(ctrl[4]!, ctrl[5]!, ctrl[6]!, ctrl[7]!, ctrl[8]!, ctrl[9]!, ctrl[10]!, ctrl[11]!, ctrl[12]!, ctrl[13]!, ctrl[14]!, ctrl[15]!, ctrl[16]!,
    ctrl[17]!, ctrl[18]!, ctrl[19]!);
  Atomics.store(ctrl, 1, seen);
  Atomics.notify(ctrl, 1);
}
parentPort?.close();
