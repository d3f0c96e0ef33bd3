import type { ResolvedConfig } from '../config/validate.js';
import type { Policy } from '../interfaces/policy.js';
import type { Optimiser } from '../interfaces/optimiser.js';
import type { Hook } from '../interfaces/hook.js';
import { pruneCheckpoints, writeCheckpoint, type TrainerState } from './checkpoint.js';

interface CheckpointerOptions {
  runDir: string;
  policy: Policy;
  optimiser: Optimiser;
  /** Every hook's onCheckpoint runs before each write. */
  hooks: readonly Hook[];
  train: Pick<ResolvedConfig['train'], 'checkpointEvery' | 'keepCheckpoints'>;
  /** The trainer's state as of now (read as each checkpoint is written). */
  state: () => TrainerState;
  log: (message: string) => void;
}

/**
 * A run's checkpoints (core/training/checkpoint.ts writes them): `step-N` every `train.checkpointEvery` steps and
 * when the run stops, the oldest pruned beyond `train.keepCheckpoints`, and the state of a step that failed under a
 * name `--resume` never picks. Hooks make their output durable up to the step first (onCheckpoint), so a resume from
 * the checkpoint loses nothing.
 */
export class Checkpointer {
  private lastDir: string | undefined;

  constructor(private readonly o: CheckpointerOptions) {}

  /** The last checkpoint this run wrote (undefined before the first). */
  get last(): string | undefined {
    return this.lastDir;
  }

  /** The cadence: `step-N` when `step` is a multiple of train.checkpointEvery short of `total` (the last step's is {@link save}'s when the run stops). */
  async maybeSave(step: number, total: number): Promise<void> {
    const every = this.o.train.checkpointEvery;
    if (every > 0 && step % every === 0 && step < total) await this.save(step);
  }

  /** `step-N`, a normal resumable checkpoint; then the oldest beyond train.keepCheckpoints are removed. */
  async save(step: number): Promise<string> {
    const { runDir, train, log } = this.o;
    const dir = await this.write(step, `step-${step}`);
    for (const old of pruneCheckpoints(runDir, train.keepCheckpoints))
      log(`removed ${old} (train.keepCheckpoints ${train.keepCheckpoints})`);
    this.lastDir = dir;
    return dir;
  }

  /**
   * The state after step `step` when the next one failed, kept for inspection under `name` (which `--resume` never
   * picks; not pruned). Never throws: if it cannot be written, the last checkpoint stays what it was.
   */
  async failed(step: number, name: string): Promise<string | undefined> {
    this.lastDir = await this.write(step, name).catch(() => this.lastDir);
    return this.lastDir;
  }

  private async write(step: number, name: string): Promise<string> {
    const { runDir, policy, optimiser, hooks, state } = this.o;
    for (const h of hooks) await h.onCheckpoint?.({ step, name });
    return writeCheckpoint(runDir, policy, optimiser.getState(), state(), name);
  }
}
