import type * as tf from '@tensorflow/tfjs';
import { AdamW } from './adam.js';
import { clipGradNorm } from './clip.js';
import type { ScheduleOptions } from './schedule.js';

/**
 * The usual GPT fine-tuning optimiser: AdamW with decoupled weight decay on matrices and embeddings (rank ≥ 2), none
 * on biases and LayerNorm parameters (rank < 2), one learning-rate schedule for both groups, and an optional
 * global-norm gradient clip over all of them. Used by `pretrain` and `train-classifier`.
 */
export class DecayGroupsAdamW {
  /** The variables in the order {@link step} expects their gradients: the decayed group, then the rest. */
  readonly ordered: tf.Variable[];
  private readonly decayVars: tf.Variable[];
  private readonly plainVars: tf.Variable[];
  private readonly decayOpt: AdamW;
  private readonly plainOpt: AdamW;

  constructor(
    vars: readonly tf.Variable[],
    o: { learningRate: number; betas: [number, number]; weightDecay: number; schedule: ScheduleOptions },
  ) {
    this.decayVars = vars.filter((v) => v.rank >= 2);
    this.plainVars = vars.filter((v) => v.rank < 2);
    this.ordered = [...this.decayVars, ...this.plainVars];
    const common = { learningRate: o.learningRate, betas: o.betas, eps: 1e-8, schedule: o.schedule };
    this.decayOpt = new AdamW({ ...common, weightDecay: o.weightDecay });
    this.plainOpt = new AdamW({ ...common, weightDecay: 0 });
  }

  /** The learning rate the next step uses. */
  learningRate(): number {
    return this.decayOpt.learningRate();
  }

  /**
   * One update from gradients in {@link ordered} order (disposed here), clipped to `maxGradNorm` first unless null;
   * returns the global gradient norm before clipping (NaN without clipping).
   */
  step(grads: tf.Tensor[], maxGradNorm: number | null): number {
    let list = grads;
    let norm = NaN;
    if (maxGradNorm !== null) {
      const clipped = clipGradNorm(list, maxGradNorm);
      for (const g of list) g.dispose();
      list = clipped.grads;
      norm = clipped.norm;
    }
    this.decayOpt.apply(this.decayVars, list.slice(0, this.decayVars.length));
    this.plainOpt.apply(this.plainVars, list.slice(this.decayVars.length));
    this.decayOpt.advanceSchedule();
    this.plainOpt.advanceSchedule();
    for (const g of list) g.dispose();
    return norm;
  }

  dispose(): void {
    this.decayOpt.dispose();
    this.plainOpt.dispose();
  }
}
