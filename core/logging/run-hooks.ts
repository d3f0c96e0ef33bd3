import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Hook, StepReport } from '../interfaces/hook.js';
import { TensorBoardWriter } from './tensorboard.js';
import { Progress } from './progress.js';

/**
 * Every scalar of every step (TRL's names), reward/KL/advantage histograms, sample generations
 * as text, and the process's memory, to `events.out.tfevents.*` in the run folder.
 */
export class TensorBoardHook implements Hook {
  readonly name = 'tensorboard';
  readonly writer: TensorBoardWriter;

  constructor(runDir: string, private readonly opts: { logEvery: number; sampleEvery: number; checkpointEvery?: number }) {
    this.writer = new TensorBoardWriter(runDir, { flushEverySeconds: 5 });
  }

  onStep(r: StepReport): void {
    const w = this.writer;
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
    // A checkpoint follows this step: its curves reach the disk first, so a run killed later and resumed from
    // that checkpoint has every step's points.
    if (this.opts.checkpointEvery && r.step % this.opts.checkpointEvery === 0) w.flush();
  }

  /** Scalars outside the step loop (evaluation figures). */
  scalars(values: Record<string, number>, step: number): void {
    for (const [tag, v] of Object.entries(values)) this.writer.scalar(tag, v, step);
    this.writer.flush();
  }

  onRunEnd(): void {
    this.writer.close();
  }
}

/** `samples.jsonl`: every prompt, response, score and reward of every step, appended as it happens. */
export class SamplesHook implements Hook {
  readonly name = 'samples';
  private readonly fd: number;

  constructor(private readonly runDir: string) {
    fs.mkdirSync(runDir, { recursive: true });
    this.fd = fs.openSync(path.join(runDir, 'samples.jsonl'), 'a');
  }

  /**
   * A resumed run continues from its checkpoint: lines of later steps (written before a crash, after that
   * checkpoint) are dropped, so the file equals an uninterrupted run's.
   */
  onRunStart(info: { startStep: number }): void {
    const file = path.join(this.runDir, 'samples.jsonl');
    const text = fs.readFileSync(file, 'utf8');
    let keep = 0;
    for (const line of text.split('\n')) {
      let step: number;
      try {
        step = (JSON.parse(line) as { step: number }).step;
      } catch {
        break; // a line cut short by a crash
      }
      if (!(step <= info.startStep)) break;
      keep += Buffer.byteLength(line) + 1;
    }
    if (keep < Buffer.byteLength(text)) fs.ftruncateSync(this.fd, keep);
  }

  onStep(r: StepReport): void {
    const lines = (r.allSamples ?? r.samples).map((s) => JSON.stringify({ step: r.step, ...s })).join('\n');
    if (lines) fs.writeSync(this.fd, `${lines}\n`);
  }

  onRunEnd(): void {
    try { fs.closeSync(this.fd); } catch { /* already closed */ }
  }
}

/** The console: a progress bar with step, reward, KL, β and ETA; warnings on their own lines. */
export class ConsoleHook implements Hook {
  readonly name = 'console';
  private progress?: Progress;

  constructor(private readonly enabled: boolean, private readonly out: NodeJS.WriteStream = process.stderr) {}

  onRunStart(info: { totalSteps: number; startStep: number }): void {
    this.progress = new Progress('ppo step', info.totalSteps, this.out, { enabled: this.enabled, startAt: info.startStep });
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
  }
}
