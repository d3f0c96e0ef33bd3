import { z } from 'zod';
import type { PluginContext } from '../plugin/define.js';
import { Adam, AdamW } from './adam.js';
import { validateSchedule, type ScheduleKind, type ScheduleOptions } from './schedule.js';

/** TRL v0.11.4 `PPOConfig.learning_rate`. */
const TRL_LEARNING_RATE = 1.41e-5;

const beta = (i: number, dflt: number) =>
  z
    .number()
    .min(0)
    .lt(1)
    .describe(`beta${i + 1}, in [0, 1) (torch default ${dflt})`);

/**
 * Options of the `adam` and `adamw` optimiser plugins (only the weight-decay default differs:
 * 0 for Adam as in torch and TRL, 0.01 for AdamW as in torch).
 */
export function adamOptionsSchema(defaultWeightDecay: number) {
  return z.object({
    learningRate: z.number().min(0).default(TRL_LEARNING_RATE).describe('base learning rate (TRL learning_rate, default 1.41e-5)'),
    betas: z
      .tuple([beta(0, 0.9), beta(1, 0.999)])
      .default([0.9, 0.999])
      .describe('[beta1, beta2]: decay of the first and second moment estimates'),
    eps: z.number().min(0).default(1e-8).describe("added to √v̂, outside the square root (PyTorch's form)"),
    weightDecay: z
      .number()
      .min(0)
      .default(defaultWeightDecay)
      .describe(`weight decay (default ${defaultWeightDecay}); Adam adds wd·θ to the gradient, AdamW decays θ by lr·wd`),
    schedule: z
      .enum(['constant', 'linear', 'cosine'] satisfies ScheduleKind[])
      .default('constant')
      .describe('learning-rate schedule, stepped once per PPO step: constant, linear or cosine (to 0 at totalSteps)'),
    warmupSteps: z.number().int().min(0).default(0).describe("PPO steps of linear warm-up from 0 (transformers' schedules)"),
    totalSteps: z
      .number()
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe("PPO steps over which linear/cosine decay to 0; null = the run's train.steps"),
  });
}

/** Parsed options of the `adam` / `adamw` plugins. */
export type AdamPluginOptions = z.output<ReturnType<typeof adamOptionsSchema>>;

/** Builds the optimiser from plugin options; `totalSteps: null` becomes `ctx.trainSteps`. */
export function createAdamFromOptions(o: AdamPluginOptions, ctx: Pick<PluginContext, 'trainSteps'>, decoupled: boolean): Adam {
  const name = decoupled ? 'adamw' : 'adam';
  const schedule: ScheduleOptions = { kind: o.schedule, warmupSteps: o.warmupSteps, totalSteps: o.totalSteps ?? ctx.trainSteps };
  try {
    validateSchedule(schedule, `optimiser "${name}"`);
  } catch (err) {
    const from = o.totalSteps === null ? ` (totalSteps is null, so it is train.steps = ${ctx.trainSteps})` : '';
    throw new Error(`${(err as Error).message}${from}`);
  }
  const options = { learningRate: o.learningRate, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, schedule };
  return decoupled ? new AdamW(options) : new Adam(options);
}
