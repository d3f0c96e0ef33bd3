/**
 * Messages between the main thread and a data-parallel worker (plain data only: structured clones of numbers,
 * strings and typed arrays; bulk weights and gradients travel through shared memory, see layout.ts).
 */
import type { ResolvedConfig } from '../config/validate.js';
import type { PpoLossConfig } from '../ppo/math.js';
import type { GenerateOptions } from '../interfaces/policy.js';
import type { BackendOptions } from '../model/wasm/backend.js';
import type { VarLayout } from './layout.js';
import type { GradShardInput, ShardRollout, ShardRows } from '../ppo/shard.js';

/** Test-only fault injection: the worker fails on its `after`-th request of kind `op` (1-based). */
export interface WorkerFault {
  op: WorkerRequest['op'];
  after: number;
  /** throw: the request handler throws; exit: the thread exits abruptly with code 3. */
  mode: 'throw' | 'exit';
}

/** `workerData` of a worker thread. */
export interface WorkerInit {
  rank: number;
  /** The resolved config: the worker builds its memory strategies and `policy` slot from it, as main did. */
  config: ResolvedConfig;
  /** Base folder of relative paths and user plugin modules (RunContext.configDir). */
  configDir: string;
  /**
   * Module URLs the worker rebuilds main's plugin registry from, in order (PluginRegistry.fromModuleUrls): the
   * built-in list and the config's plugin modules.
   */
  pluginModules: string[];
  /** Options for initBackend besides the name (e.g. matmul), as main used them; the worker adds threads 1, blasThreads 1. */
  backendOptions: BackendOptions;
  layout: VarLayout;
  /** Float32 weights main broadcasts: `layout.size` floats. */
  weights: SharedArrayBuffer;
  /** Float32 gradients: `layout.size` floats per worker rank (rank r writes at `(r - 1) · layout.size`). */
  grads: SharedArrayBuffer;
  /** Also build the `reward.model` slot and answer 'classify' requests (its plugin declared `scoresOnWorkers`). */
  scoring: boolean;
  fault?: WorkerFault;
}

/** What the worker can be asked; every request carries the weights version the answer must be computed with. */
export type WorkerRequest = { id: number; weightsVersion: number } & (
  | { op: 'rollout'; rows: ShardRows; chunk: number; full: boolean }
  | { op: 'gradients'; input: GradShardInput; loss: PpoLossConfig; full: boolean }
  | { op: 'generate'; prompts: number[][]; options: Omit<GenerateOptions, 'rng'>; seed: number }
  | { op: 'classify'; texts: string[] }
  | { op: 'checksum' }
  | { op: 'numTensors' }
);

/** Result type of each request op. */
export interface WorkerResults {
  rollout: ShardRollout;
  /** Gradients were written to shared memory. */
  gradients: { logprobs: Float32Array; vpreds: Float32Array; entropy: Float32Array };
  generate: number[][];
  classify: number[][];
  checksum: string;
  numTensors: number;
}

/** Messages a worker posts. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string };
