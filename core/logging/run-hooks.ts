import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EvalReport, Hook, StepReport } from '../interfaces/hook.js';
import { TensorBoardWriter } from './tensorboard.js';
import { Progress } from './progress.js';

/**
 * Every scalar of every step (TRL's names), reward/KL/advantage histograms, sample generations
 * as text, the process's memory, and the evaluations' figures at their steps, to `events.out.tfevents.*` in the run
 * folder (opened at the run's start: the folder is taken by then).
 */
export class TensorBoardHook implements Hook {
  readonly name = 'tensorboard';
  private w?: TensorBoardWriter;

  constructor(private readonly opts: { logEvery: number; sampleEvery: number }) {}

  /** The event file's writer (once the run has started). */
  get writer(): TensorBoardWriter | undefined {
    return this.w;
  }

  onRunStart(info: { runDir: string }): void {
    this.w ??= new TensorBoardWriter(info.runDir, { flushEverySeconds: 5 });
  }

  onStep(r: StepReport): void {
    const w = this.w;
    if (!w) return;
    if (r.step % this.opts.logEvery === 0 || r.step === r.totalSteps) {
      for (const [tag, v] of Object.entries(r.stats)) w.scalar(tag, v, r.step);
      const mem = tf.memory();
      w.scalar('memory/rss_bytes', process.memoryUsage().rss, r.step);
      w.scalar('memory/tensor_bytes', mem.numBytes, r.step);
      w.scalar('memory/num_tensors', mem.numTensors, r.step);
      w.histogram('env/reward_dist', r.rewards, r.step);
      for (const [tag, values] of Object.entries(r.distributions ?? {})) w.histogram(tag, values, r.step);
    }
    if (r.step % this.opts.sampleEvery === 0 || r.step === 1 || r.step === r.totalSteps) {
      const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
      const rows = r.samples.map((s) => `| ${esc(s.prompt)} | ${esc(s.response)} | ${s.score.toFixed(3)} |`);
      w.text('samples', ['| prompt | response | score |', '|---|---|---|', ...rows].join('\n'), r.step);
    }
  }

  /** Evaluation figures (`eval/...`) at the evaluation's step, flushed at once (evaluations are rare and slow). */
  onEval(e: EvalReport): void {
    if (!this.w) return;
    for (const [tag, v] of Object.entries(e.figures)) this.w.scalar(tag, v, e.step);
    this.w.flush();
  }

  onCheckpoint(): void {
    this.w?.flush();
  }

  onRunEnd(): void {
    this.w?.close();
  }

  onForcedExit(): void {
    this.w?.close();
  }
}

/** `samples.jsonl`: every prompt, response, score and reward of every step, appended as it happens. */
export class SamplesHook implements Hook {
  readonly name = 'samples';
  private fd: number | undefined;

  onRunStart(info: { runDir: string }): void {
    if (this.fd !== undefined) return;
    fs.mkdirSync(info.runDir, { recursive: true });
    this.fd = fs.openSync(path.join(info.runDir, 'samples.jsonl'), 'a');
  }

  onStep(r: StepReport): void {
    if (this.fd === undefined) return;
    const lines = (r.allSamples ?? r.samples).map((s) => JSON.stringify({ step: r.step, ...s })).join('\n');
    if (lines) fs.writeSync(this.fd, `${lines}\n`);
  }

  onRunEnd(): void {
    this.close();
  }

  /** Lines are written with writeSync as they come: closing is all there is to do. */
  onForcedExit(): void {
    this.close();
  }

  private close(): void {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = undefined;
  }
}

/**
 * The console: a progress bar with step, reward, KL, β and ETA (`progress`); warnings on their own lines (always).
 * The bar starts at the first step, so the initial evaluation does not count towards the ETA.
 */
export class ConsoleHook implements Hook {
  readonly name = 'console';
  private progress?: Progress;
  private startStep = 0;

  constructor(
    private readonly enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  onRunStart(info: { totalSteps: number; startStep: number }): void {
    this.startStep = info.startStep;
  }

  onBeforeStep(info: { step: number; totalSteps: number }): void {
    this.progress ??= new Progress('ppo step', info.totalSteps, this.out, { enabled: this.enabled, startAt: this.startStep });
  }

  onStep(r: StepReport): void {
    for (const w of r.warnings ?? []) this.out.write(`\n[step ${r.step}] warning: ${w}\n`);
    this.progress?.update(r.step, {
      reward: r.stats['env/reward_mean'] ?? NaN,
      kl: r.stats['objective/kl'] ?? NaN,
      β: r.stats['objective/kl_coef'] ?? NaN,
      's/step': r.stats['time/step'] ?? NaN,
    });
  }

  onRunEnd(): void {
    this.progress?.end();
    this.progress = undefined;
  }
}
