/**
 * Data-parallel PPO over worker threads: rank 0 is the main thread, ranks 1..N-1 are workers each holding a policy
 * replica on its own TensorFlow.js backend. Rows are split into contiguous, near-equal shares:
 *
 * - rollout: each rank runs the no-grad pass on its share; main gathers the host arrays.
 * - mini-batch: each rank differentiates ITS share of the mini-batch loss, masked means taken over the whole
 *   mini-batch's mask sum, so the ranks' gradients sum (in rank order: deterministic) to the mini-batch gradient.
 *   Main computes TRL's statistics in float64 (math.ts#ppoLoss) from the gathered per-token arrays and decides
 *   ratio_threshold's skip on the whole mini-batch (zeroing the summed gradient).
 * - sampling: each rank samples its prompts with an Rng seeded by a draw of the caller's generator.
 *
 * Main owns the optimiser: after every update the trainable weights are written to shared memory and each worker
 * assigns them before its next request, so replicas cannot drift. Results depend on the worker count (sampling
 * streams and float summation order differ) but are deterministic for a given count.
 *
 * A worker failure never hangs or tears a step: the current operation and the rest of the step run on the main
 * thread alone ({@link failure} is then set and the pool closed), so the caller can checkpoint a complete step.
 */
import * as tf from '@tensorflow/tfjs';
import type { ResolvedConfig } from '../config/validate.js';
import type { BackendOptions } from '../model/wasm/backend.js';
import type { GenerateOptions, Policy } from '../interfaces/policy.js';
import type { RewardModel } from '../interfaces/reward.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { PpoConfig } from '../config/schema.js';
import { takeRows, type PpoBatch } from '../ppo/batch.js';
import { maskedMean, type Float64BT } from '../ppo/arrays.js';
import { ppoLoss, type PpoLossConfig } from '../ppo/math.js';
import { LocalCompute, type PpoAdvantages, type PpoCompute, type PpoMinibatchResult, type PpoRollout } from '../ppo/step.js';
import { Rng } from '../util/rng.js';
import { WorkerCrashError } from './errors.js';
import { coresForThisProcess } from '../util/cores.js';
import { varLayout, weightsChecksum, writeVars, type VarLayout } from './layout.js';
import { WorkerPool } from './pool.js';
import type { WorkerFault, WorkerInit } from './protocol.js';
import {
  shardGradients,
  shardRollout,
  splitRows,
  type GradShardHost,
  type GradShardInput,
  type ShardRollout,
  type ShardRows,
} from '../ppo/shard.js';

/**
 * `workers` of the config → a thread count: 'auto' = this process's cores (core/util/cores.ts: the machine's, shared
 * with the grid arms running beside it), except 1 on the native TensorFlow
 * backends (`tensorflow`, `tensorflow-gpu`), which already use every core (or the GPU) from one thread.
 */
export function resolveWorkers(workers: 'auto' | number, backend = 'wasm'): number {
  if (workers === 'auto') return backend.startsWith('tensorflow') ? 1 : coresForThisProcess();
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be 'auto' or an integer ≥ 1; got ${String(workers)}`);
  return workers;
}

const TWO_POW_53 = 2 ** 53;

/** Environment variable of the test-only fault injection: `<rank>:<op>:<after>:<throw|exit>`, e.g. `1:gradients:2:throw`. */
export const WORKER_FAULT_ENV = 'DETOX_LAB_TEST_WORKER_FAULT';

function faultFromEnv(): ({ rank: number } & WorkerFault) | undefined {
  const spec = process.env[WORKER_FAULT_ENV];
  if (!spec) return undefined;
  const [rank, op, after, mode] = spec.split(':');
  const ops = ['rollout', 'gradients', 'generate', 'classify', 'checksum', 'numTensors'];
  if (!ops.includes(op!) || (mode !== 'throw' && mode !== 'exit') || !(Number(rank) >= 1) || !(Number(after) >= 1)) {
    throw new Error(`${WORKER_FAULT_ENV}=${spec}: expected <rank ≥ 1>:<${ops.join('|')}>:<n ≥ 1>:<throw|exit>`);
  }
  return { rank: Number(rank), op: op as WorkerFault['op'], after: Number(after), mode };
}

/** Options of {@link ParallelCompute.start}. */
interface ParallelComputeOptions {
  /** The resolved config: workers build their replicas from it exactly as main built its policy. */
  config: ResolvedConfig;
  /** Base folder of relative paths and plugin modules (RunContext.configDir). */
  configDir: string;
  /** Main's policy (rank 0), built from the same config. */
  policy: Policy;
  /**
   * The registry main built its plugins from: each worker rebuilds it from its module URLs
   * ({@link PluginRegistry.moduleUrls}: the built-in list and the config's plugin modules), so a worker loads the
   * same plugins as main, a user's included, and nothing else.
   */
  plugins: PluginRegistry;
  /**
   * Main's reward model: when it declares {@link RewardModel.scoresOnWorkers}, every worker builds one from the
   * `reward.model` slot and scores its share of each batch; otherwise main scores alone.
   */
  rewardModel?: Pick<RewardModel, 'scoresOnWorkers'>;
  /** Ranks including the main thread (≥ 2). */
  workers: number;
  /** initBackend options besides the name, as main used them (e.g. `{ matmul: 'native' }`). */
  backendOptions?: BackendOptions;
  /** Test only: make one worker fail on purpose. */
  fault?: { rank: number } & WorkerFault;
}

/** {@link PpoCompute} across worker threads, plus split sampling (see the module doc). */
export class ParallelCompute implements PpoCompute {
  private version = 0;
  private dirty = true;
  private crashed: WorkerCrashError | null = null;
  private readonly local: LocalCompute;
  private readonly vars: tf.Variable[];
  private readonly weights: Float32Array;
  private readonly grads: Float32Array;

  private constructor(
    private readonly policy: Policy,
    private readonly cfg: PpoConfig,
    private readonly layout: VarLayout,
    private readonly pool: WorkerPool,
    buffers: { weights: SharedArrayBuffer; grads: SharedArrayBuffer },
    /** Whether the workers hold the reward model (see {@link ParallelComputeOptions.rewardModel}). */
    readonly splitsScoring: boolean,
  ) {
    this.local = new LocalCompute(policy, cfg);
    this.vars = policy.trainableVariables();
    this.weights = new Float32Array(buffers.weights);
    this.grads = new Float32Array(buffers.grads);
  }

  /**
   * Starts `workers - 1` worker threads and waits until each has built its replica.
   * @throws WorkerCrashError when a worker cannot start or build its replica (no thread is left running)
   */
  static async start(opts: ParallelComputeOptions): Promise<ParallelCompute> {
    if (!Number.isInteger(opts.workers) || opts.workers < 2) {
      throw new RangeError(`ParallelCompute: workers must be an integer ≥ 2 (1 = the main thread alone); got ${opts.workers}`);
    }
    const fault = opts.fault ?? faultFromEnv();
    const scoring = opts.rewardModel?.scoresOnWorkers === true;
    const pluginModules = [...opts.plugins.moduleUrls()];
    const layout = varLayout(opts.policy.trainableVariables());
    const weights = new SharedArrayBuffer(layout.size * 4);
    const grads = new SharedArrayBuffer(layout.size * 4 * (opts.workers - 1));
    const inits: WorkerInit[] = Array.from({ length: opts.workers - 1 }, (_, i) => ({
      rank: i + 1,
      config: opts.config,
      configDir: opts.configDir,
      backendOptions: opts.backendOptions ?? {},
      pluginModules,
      layout,
      weights,
      grads,
      scoring,
      ...(fault && fault.rank === i + 1 ? { fault: { op: fault.op, after: fault.after, mode: fault.mode } } : {}),
    }));
    const pool = await WorkerPool.start(inits);
    return new ParallelCompute(opts.policy, opts.config.ppo, layout, pool, { weights, grads }, scoring);
  }

  /** Ranks including the main thread. */
  get ranks(): number {
    return this.pool.size + 1;
  }

  /** The worker failure that made this compute fall back to the main thread, or null while every worker is healthy. */
  get failure(): WorkerCrashError | null {
    return this.crashed;
  }

  /** The main policy's weights changed outside an optimiser step (e.g. restored from a checkpoint). */
  weightsChanged(): void {
    this.dirty = true;
  }

  weightsUpdated(): void {
    this.dirty = true;
  }

  /** The weights version requests must use: publishes main's trainable weights first when they changed. */
  private currentVersion(): number {
    if (this.dirty) {
      writeVars(this.vars, this.layout, this.weights);
      this.version++;
      this.dirty = false;
    }
    return this.version;
  }

  /** Runs `parallel`; on a worker failure records it, closes the pool and runs `fallback` on this thread instead. */
  private async guarded<T>(parallel: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (this.crashed) return fallback();
    try {
      return await parallel();
    } catch (err) {
      if (!(err instanceof WorkerCrashError)) throw err;
      this.crashed = err;
      await this.pool.close();
      return fallback();
    }
  }

  /** Settles every request, then throws the first worker failure (so no rejection is left unobserved). */
  private static async all<T>(requests: Promise<T>[]): Promise<T[]> {
    const settled = await Promise.allSettled(requests);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  async rollout(batch: PpoBatch): Promise<PpoRollout> {
    return this.guarded(
      () => this.parallelRollout(batch),
      () => this.local.rollout(batch),
    );
  }

  private async parallelRollout(batch: PpoBatch): Promise<PpoRollout> {
    const B = batch.batchSize;
    const L = batch.length;
    const T = L - 1;
    const full = this.cfg.klPenalty === 'full';
    const chunk = this.cfg.miniBatchSize;
    const shares = splitRows(B, this.ranks);
    const rowsOf = ([start, n]: [number, number]): ShardRows => ({
      b: n,
      L,
      inputIds: batch.inputIds.slice(start * L, (start + n) * L), // [n, L]
      attentionMask: batch.attentionMask.slice(start * L, (start + n) * L), // [n, L]
    });
    const version = this.currentVersion();
    const requests = shares
      .slice(1)
      .map((share, i) =>
        share[1] > 0
          ? this.pool.request<'rollout'>(i + 1, version, { op: 'rollout', rows: rowsOf(share), chunk, full })
          : Promise.resolve<ShardRollout | null>(null),
      );
    let mine: ShardRollout | null = null;
    try {
      mine = shardRollout(this.policy, rowsOf(shares[0]!), chunk, full);
    } finally {
      if (mine === null) await Promise.allSettled(requests);
    }
    const parts = [mine, ...(await ParallelCompute.all(requests))];
    const gather = (key: keyof ShardRollout): Float64BT => {
      const out = new Float64Array(B * T); // [B, T]
      parts.forEach((p, r) => {
        if (p) out.set(p[key]!, shares[r]![0] * T);
      });
      return { data: out, B, T };
    };
    return {
      logprobs: gather('logprobs'),
      refLogprobs: gather('refLogprobs'),
      values: gather('values'),
      ...(full ? { fullKls: gather('fullKls') } : {}),
    };
  }

  async minibatch(batch: PpoBatch, rows: number[], roll: PpoRollout, adv: PpoAdvantages): Promise<PpoMinibatchResult> {
    return this.guarded(
      () => this.parallelMinibatch(batch, rows, roll, adv),
      () => this.local.minibatch(batch, rows, roll, adv),
    );
  }

  private async parallelMinibatch(batch: PpoBatch, rows: number[], roll: PpoRollout, adv: PpoAdvantages): Promise<PpoMinibatchResult> {
    const L = batch.length;
    const T = L - 1;
    const b = rows.length;
    const full = this.cfg.klPenalty === 'full';
    const lossCfg: PpoLossConfig = {
      cliprange: this.cfg.cliprange,
      cliprangeValue: this.cfg.cliprangeValue,
      vfCoef: this.cfg.vfCoef,
      ratioThreshold: this.cfg.ratioThreshold,
    };
    const f64 = (x: Float64Array): Float64BT => ({ data: takeRows(x, T, rows), B: b, T }); // [b, T]
    const mask = f64(batch.mask);
    let normaliser = 0;
    for (const m of mask.data) normaliser += m;
    const shares = splitRows(b, this.ranks);
    const f32 = (x: Float64Array, sub: number[]) => Float32Array.from(takeRows(x, T, sub)); // [n, T]
    const inputOf = ([start, n]: [number, number]): GradShardInput => {
      const sub = rows.slice(start, start + n);
      return {
        b: n,
        L,
        inputIds: takeRows(batch.inputIds, L, sub),
        attentionMask: takeRows(batch.attentionMask, L, sub), // [n, L] each
        oldLogprobs: f32(roll.logprobs.data, sub),
        oldValues: f32(adv.values.data, sub),
        advantages: f32(adv.advantages.data, sub),
        returns: f32(adv.returns.data, sub),
        mask: f32(batch.mask, sub),
        normaliser,
      };
    };
    const version = this.currentVersion();
    const requests = shares
      .slice(1)
      .map((share, i) =>
        share[1] > 0
          ? this.pool.request<'gradients'>(i + 1, version, { op: 'gradients', input: inputOf(share), loss: lossCfg, full })
          : Promise.resolve<GradShardHost | null>(null),
      );
    let mine: ({ grads: tf.Tensor[] } & GradShardHost) | null = null;
    try {
      mine = shardGradients(this.policy, this.vars, inputOf(shares[0]!), lossCfg, full);
    } finally {
      if (mine === null) await Promise.allSettled(requests);
    }
    let hosts: (GradShardHost | null)[];
    try {
      hosts = await ParallelCompute.all(requests);
    } catch (err) {
      tf.dispose(mine.grads);
      throw err;
    }

    // Σ over ranks, in rank order.
    const size = this.layout.size;
    const grads = mine.grads.map((g0, i) => {
      let acc = g0;
      hosts.forEach((h, k) => {
        if (!h) return;
        const at = k * size + this.layout.offsets[i]!;
        const next = tf.tidy(() => tf.add(acc, tf.tensor(this.grads.slice(at, at + g0.size), g0.shape, 'float32'))); // shape of var i
        acc.dispose();
        acc = next;
      });
      return acc;
    });

    // TRL's statistics of the whole mini-batch, in float64 from the gathered per-token arrays.
    const gather = (key: keyof GradShardHost): Float64BT => {
      const out = new Float64Array(b * T); // [b, T]
      [mine, ...hosts].forEach((h, r) => {
        if (h) out.set(h[key], shares[r]![0] * T);
      });
      return { data: out, B: b, T };
    };
    const entropy = gather('entropy');
    const loss = ppoLoss(
      {
        logprobs: gather('logprobs'),
        vpreds: gather('vpreds'),
        oldLogprobs: f64(roll.logprobs.data),
        values: f64(adv.values.data),
        advantages: f64(adv.advantages.data),
        returns: f64(adv.returns.data),
        mask,
      },
      lossCfg,
    );
    const stats = { ...loss.stats, 'policy/entropy': maskedMean(entropy, mask) };
    if (loss.skipped) {
      // TRL zeroes a skipped mini-batch's loss, hence its gradient.
      const zeros = grads.map((g) => tf.zerosLike(g));
      tf.dispose(grads);
      return { grads: zeros, stats, skip: true };
    }
    return { grads, stats, skip: false };
  }

  /**
   * Samples responses for `prompts`, split between the ranks. Each rank samples its share with `new Rng(seed)`, one
   * seed per rank drawn from `opts.rng` (always N draws), so results are deterministic for a given worker count.
   */
  async generate(prompts: number[][], opts: GenerateOptions): Promise<number[][]> {
    const seeds = Array.from({ length: this.ranks }, () => opts.rng.next() * TWO_POW_53);
    const { rng: _rng, ...options } = opts;
    return this.guarded(
      async () => {
        const shares = splitRows(prompts.length, this.ranks);
        const version = this.currentVersion();
        const requests = shares.slice(1).map(([start, n], i) =>
          n > 0
            ? this.pool.request<'generate'>(i + 1, version, {
                op: 'generate',
                prompts: prompts.slice(start, start + n),
                options,
                seed: seeds[i + 1]!,
              })
            : Promise.resolve<number[][]>([]),
        );
        let mine: number[][] | null = null;
        try {
          const [start, n] = shares[0]!;
          mine = n > 0 ? await this.policy.generate(prompts.slice(start, start + n), { ...options, rng: new Rng(seeds[0]!) }) : [];
        } finally {
          if (mine === null) await Promise.allSettled(requests);
        }
        return [mine, ...(await ParallelCompute.all(requests))].flat();
      },
      () => this.policy.generate(prompts, { ...options, rng: new Rng(seeds[0]!) }),
    );
  }

  /**
   * Classifier logits for `texts`: split between the ranks when the workers hold the reward model (TF-based
   * classifiers), else `classifier.classify` on this thread. `classifier` is main's instance of the same slot.
   */
  async classify(texts: string[], classifier: RewardModel): Promise<number[][]> {
    if (!this.splitsScoring) return classifier.classify(texts);
    return this.guarded(
      async () => {
        const shares = splitRows(texts.length, this.ranks);
        const requests = shares
          .slice(1)
          .map(([start, n], i) =>
            n > 0
              ? this.pool.request<'classify'>(i + 1, this.version, { op: 'classify', texts: texts.slice(start, start + n) })
              : Promise.resolve<number[][]>([]),
          );
        let mine: number[][] | null = null;
        try {
          const [start, n] = shares[0]!;
          mine = n > 0 ? await classifier.classify(texts.slice(start, start + n)) : [];
        } finally {
          if (mine === null) await Promise.allSettled(requests);
        }
        return [mine, ...(await ParallelCompute.all(requests))].flat();
      },
      () => classifier.classify(texts),
    );
  }

  /** `classifier` scoring through {@link classify} (same names and labels). */
  splitClassifier(classifier: RewardModel): RewardModel {
    return {
      name: classifier.name,
      labels: classifier.labels,
      neutralIndex: classifier.neutralIndex,
      classify: (t) => this.classify(t, classifier),
    };
  }

  /** Checksums of main's trainable weights and of each worker's replica (after syncing them). For tests and checks. */
  async checksums(): Promise<{ main: string; workers: string[] }> {
    const version = this.currentVersion();
    const workers = await ParallelCompute.all(
      Array.from({ length: this.pool.size }, (_, i) => this.pool.request<'checksum'>(i + 1, version, { op: 'checksum' })),
    );
    return { main: weightsChecksum(this.vars), workers };
  }

  /** tf.memory().numTensors of each worker. For tests. */
  async workerTensors(): Promise<number[]> {
    return ParallelCompute.all(
      Array.from({ length: this.pool.size }, (_, i) => this.pool.request<'numTensors'>(i + 1, this.version, { op: 'numTensors' })),
    );
  }

  /** Worker threads still running (0 after {@link close}). */
  get liveThreads(): number {
    return this.pool.liveThreads;
  }

  /** Terminates the worker threads (idempotent). */
  async close(): Promise<void> {
    await this.pool.close();
  }
}
