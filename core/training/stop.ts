import { NonFiniteError } from '../ppo/step.js';
import type { Checkpointer } from './checkpointer.js';

/** Why a run's training loop ended. */
export type StopReason =
  | { kind: 'done' }
  /** The signal, before a step or during a periodic evaluation: the steps so far are complete. */
  | { kind: 'interrupted' }
  /** The zero-variance guard (core/ppo/reward.ts), before the step's PPO update. */
  | { kind: 'zero-variance'; failure: string; warning?: string }
  /** A worker failed; the step was finished on the main thread. */
  | { kind: 'worker-failed'; failure: Error }
  /** Something threw (a NonFiniteError from the PPO step, or anything else). */
  | { kind: 'threw'; error: unknown };

/** A stopped run's status and error (the trainer's outcome). */
interface Stopped {
  status: 'done' | 'interrupted' | 'failed';
  error?: string;
}

interface StopContext {
  /** Steps completed when the run stopped. */
  step: () => number;
  saver: Checkpointer;
  log: (message: string) => void;
  /** Every hook's onRunEnd (before an error is rethrown). */
  runEnd: (status: 'failed') => Promise<void>;
}

/**
 * Runs the training loop to its stop and settles it; a throw from the loop, or from writing the stop's checkpoint,
 * is a `threw` stop.
 */
export async function runToStop(loop: () => Promise<StopReason>, ctx: StopContext): Promise<Stopped> {
  try {
    return await settle(await loop(), ctx);
  } catch (err) {
    return settle({ kind: 'threw', error: err }, ctx);
  }
}

/**
 * The one place a stop is turned into the outcome's status and error, the checkpoint that keeps what can be kept and
 * the log line. An error other than a NonFiniteError ends the run (`runEnd`) and is rethrown.
 */
async function settle(reason: StopReason, { step: stepNow, saver, log, runEnd }: StopContext): Promise<Stopped> {
  const step = stepNow();
  switch (reason.kind) {
    case 'done':
    case 'interrupted':
      await saver.save(step);
      return { status: reason.kind };
    case 'zero-variance':
      if (reason.warning) log(`warning: ${reason.warning}`);
      // The steps so far are sound: keep them as a normal, resumable checkpoint and stop.
      if (step > 0) await saver.save(step);
      log(`stopped: ${reason.failure}${saver.last ? `; steps up to ${step} saved to ${saver.last}` : ''}`);
      return { status: 'failed', error: reason.failure };
    case 'worker-failed': {
      // The step was finished on the main thread: save it as a normal, resumable checkpoint and stop.
      const dir = await saver.save(step);
      const error =
        `${reason.failure.message}; step ${step} was finished on the main thread and saved to ${dir} ` +
        '(continue with --resume; workers: 1 runs without threads)';
      log(`stopped: ${error}`);
      return { status: 'failed', error };
    }
    case 'threw': {
      const error = (reason.error as Error).message;
      if (!(reason.error instanceof NonFiniteError)) {
        await runEnd('failed');
        throw reason.error;
      }
      // Keep the broken state for inspection under a name `--resume` never picks.
      const dir = await saver.failed(step, `failed-step-${step + 1}`);
      log(`stopped: ${error}; state saved to ${dir}`);
      return { status: 'failed', error };
    }
  }
}
