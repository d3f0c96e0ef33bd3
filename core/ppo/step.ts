import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../interfaces/policy.js';
import type { Optimiser } from '../interfaces/optimiser.js';
import type { MemoryStrategy } from '../interfaces/memory.js';
import type { PpoConfig } from '../config/schema.js';
import type { Rng } from '../util/rng.js';
import { buildBatch, takeRows, logprobsFromLogitsTf, type PpoBatch } from './batch.js';
import type { Float64BT } from './arrays.js';
import { computeAdvantages, computeRewards, type PpoLossStats } from './math.js';
import { stepStats, type StepStats } from './step-stats.js';
import { disposePpoLossTfOutput, keepPpoLossTfOutput, ppoLossTf, readPpoLossStats, type PpoLossTfOutput } from './loss.js';
import { processScores, RunningMoments, type RunningMomentsState } from './running-moments.js';
import { createKLController, klControllerFromState, type KLController, type KLControllerState } from './kl-controller.js';
import { clipGradNorm } from '../optim/clip.js';
import { startPeakTracking } from '../memory/peak-bytes.js';
import { shardRollout } from './shard.js';

/** A reward or loss became NaN/Inf: training cannot go on meaningfully. */
export class NonFiniteError extends Error {}

/** What one PPO step produced: TRL's statistics plus what the health checks noticed. */
export interface PpoStepResult {
  /** Every scalar of TRL's step() under TRL's names (objective/*, ppo/*, tokens/*, time/ppo/*). */
  scalars: Record<string, number>;
  /** Distributions for histograms (objective/kl_dist, ppo/policy/advantages, ...). */
  arrays: Record<string, Float64Array>;
  /** Scores after scaling/clipping, one per sample. */
  scores: Float64Array;
  /** Human-readable warnings (negative KL, skipped mini-batches, early stop). */
  warnings: string[];
}

export interface PpoStepperState {
  klController: KLControllerState;
  runningMoments: RunningMomentsState;
}

/** The rollout pass's host arrays, `[B, L-1]` each. */
export interface PpoRollout {
  logprobs: Float64BT;
  refLogprobs: Float64BT;
  values: Float64BT;
  fullKls?: Float64BT;
}

/** GAE's outputs the loss needs, `[B, L-1]` each. */
export interface PpoAdvantages {
  values: Float64BT;
  advantages: Float64BT;
  returns: Float64BT;
}

/** One mini-batch's gradients (one per trainable variable, owned by the caller), TRL's loss statistics and the skip. */
export interface PpoMinibatchResult {
  grads: tf.Tensor[];
  stats: PpoLossStats;
  skip: boolean;
}

/**
 * Where the stepper's model work runs: the no-grad rollout pass and a mini-batch's forward/backward. The stepper keeps
 * the math flow (rewards, GAE, epochs, accumulation, clipping, the optimiser); a compute only evaluates the model.
 * {@link LocalCompute} runs on this thread; core/parallel's ParallelCompute splits rows between worker threads.
 */
export interface PpoCompute {
  /** Policy and reference log-probs and values of the whole batch (and the full KL for klPenalty 'full'). */
  rollout(batch: PpoBatch): Promise<PpoRollout>;
  /** Forward + PPO loss + gradients of the mini-batch `rows` (indices into the batch). */
  minibatch(batch: PpoBatch, rows: number[], roll: PpoRollout, adv: PpoAdvantages): Promise<PpoMinibatchResult>;
  /** Called after every optimiser update (and the memory strategies' afterUpdate): replicas must follow. */
  weightsUpdated?(): void;
}

const slice2 = (t: tf.Tensor, cols: [number, number]) => t.slice([0, cols[0]], [-1, cols[1]]);

/**
 * TRL v0.11.4's `PPOTrainer.step()`: score post-processing, a no-grad rollout pass (policy and
 * reference log-probs, values), per-token rewards with the KL penalty, GAE, then `ppoEpochs`
 * passes over shuffled mini-batches with gradient accumulation, optional gradient clipping and
 * early stopping, and finally the KL controller update. Math lives in math.ts / step-stats.ts /
 * loss.ts; this file only moves data between them and the model.
 */
export class PpoStepper {
  private klCtl: KLController;
  private running = new RunningMoments();

  /** @param compute where the model work runs (default: this thread, {@link LocalCompute}) */
  constructor(
    private readonly policy: Policy,
    private readonly optimiser: Optimiser,
    private readonly memory: readonly MemoryStrategy[],
    private readonly cfg: PpoConfig,
    private readonly rng: Rng,
    private readonly compute: PpoCompute = new LocalCompute(policy, cfg),
  ) {
    this.klCtl = createKLController(cfg);
  }

  get klCoef(): number {
    return this.klCtl.value;
  }

  getState(): PpoStepperState {
    return { klController: this.klCtl.state(), runningMoments: this.running.state() };
  }

  setState(s: PpoStepperState): void {
    this.klCtl = klControllerFromState(s.klController);
    this.running = RunningMoments.fromState(s.runningMoments);
  }

  async step(queries: number[][], responses: number[][], rawScores: readonly number[]): Promise<PpoStepResult> {
    const t0 = performance.now();
    const peak = startPeakTracking();
    try {
      return await this.stepTracked(queries, responses, rawScores, t0, peak);
    } finally {
      peak.stop();
    }
  }

  private async stepTracked(
    queries: number[][],
    responses: number[][],
    rawScores: readonly number[],
    t0: number,
    peak: { stop(): number },
  ): Promise<PpoStepResult> {
    const cfg = this.cfg;
    if (rawScores.some((s) => !Number.isFinite(s))) {
      throw new NonFiniteError(
        `reward model returned non-finite scores: ${JSON.stringify(rawScores.filter((s) => !Number.isFinite(s)).slice(0, 4))}`,
      );
    }
    const scores = processScores(rawScores, this.running, {
      useScoreScaling: cfg.useScoreScaling,
      useScoreNorm: cfg.useScoreNorm,
      scoreClip: cfg.scoreClip,
      dtype: 'float32',
    });
    const pad = this.policy.tokenizer.padTokenId ?? this.policy.tokenizer.eosTokenId ?? 0;
    const batch = buildBatch(queries, responses, pad);
    const B = batch.batchSize;
    const T = batch.length - 1;
    const mask: Float64BT = { data: batch.mask, B, T };

    // Rollout pass (no gradients), in mini-batch chunks as TRL's batched_forward_pass.
    const tf0 = performance.now();
    const roll = await this.compute.rollout(batch);
    const tRollout = performance.now() - tf0;

    // Per-token rewards: -β·KL everywhere, plus the score on the last response token.
    const tr0 = performance.now();
    const klCoef = this.klCtl.value;
    const rewards =
      cfg.klPenalty === 'full'
        ? // kls were computed from the full distributions on the device; 'kl' of (kls, 0) is kls itself.
          computeRewards({
            scores,
            logprobs: roll.fullKls!,
            refLogprobs: { data: new Float64Array(B * T), B, T },
            mask,
            klCoef,
            klPenalty: 'kl',
          })
        : computeRewards({ scores, logprobs: roll.logprobs, refLogprobs: roll.refLogprobs, mask, klCoef, klPenalty: cfg.klPenalty });
    const tRewards = performance.now() - tr0;
    const ta0 = performance.now();
    const adv = computeAdvantages({
      values: roll.values,
      rewards: rewards.rewards,
      mask,
      gamma: cfg.gamma,
      lam: cfg.lam,
      whitenRewards: cfg.whitenRewards,
    });
    const tAdv = performance.now() - ta0;

    // Optimisation: ppoEpochs × shuffled backward batches × mini-batches.
    const to0 = performance.now();
    const trainStats: PpoLossStats[] = [];
    const warnings: string[] = [];
    let skipped = 0;
    const backward = cfg.miniBatchSize * cfg.gradientAccumulationSteps;
    const vars = this.policy.trainableVariables();
    let stoppedAt: number | null = null;
    for (let epoch = 0; epoch < cfg.ppoEpochs && stoppedAt === null; epoch++) {
      const perm = this.rng.permutation(B);
      for (let bb = 0; bb < B; bb += backward) {
        let acc: tf.Tensor[] | null = null;
        for (let mb = bb; mb < bb + backward; mb += cfg.miniBatchSize) {
          const rows = perm.slice(mb, mb + cfg.miniBatchSize);
          const { grads, stats, skip } = await this.compute.minibatch(batch, rows, roll, adv);
          trainStats.push(stats);
          if (skip) skipped++;
          const scaled = grads.map((g) => (cfg.gradientAccumulationSteps > 1 ? tf.tidy(() => g.div(cfg.gradientAccumulationSteps)) : g));
          if (cfg.gradientAccumulationSteps > 1) tf.dispose(grads);
          if (acc === null) acc = scaled;
          else {
            const prev: tf.Tensor[] = acc;
            acc = prev.map((a, i) => tf.add(a, scaled[i]!));
            tf.dispose([...prev, ...scaled]);
          }
        }
        let final = acc!;
        if (cfg.maxGradNorm !== null) {
          const clipped = clipGradNorm(final, cfg.maxGradNorm);
          tf.dispose(final);
          final = clipped.grads;
        }
        this.optimiser.apply(vars, final);
        for (const m of this.memory) m.afterUpdate?.(vars);
        this.compute.weightsUpdated?.();
        tf.dispose(final);
      }
      if (cfg.earlyStopping) {
        const policykl = trainStats[trainStats.length - 1]!['policy/policykl'];
        if (policykl > 1.5 * cfg.targetKl) {
          stoppedAt = epoch;
          warnings.push(
            `early stop after epoch ${epoch + 1}/${cfg.ppoEpochs}: policy KL ${policykl.toFixed(4)} > 1.5 × targetKl (${cfg.targetKl})`,
          );
        }
      }
    }
    const tOpt = performance.now() - to0;

    const ts0 = performance.now();
    const st: StepStats = stepStats({
      klCoef,
      kls: rewards.kls,
      mask,
      logprobs: roll.logprobs,
      refLogprobs: roll.refLogprobs,
      nonScoreReward: rewards.nonScoreRewards,
      scores,
      queryLengths: batch.queryLengths,
      responseLengths: batch.responseLengths,
      trainStats,
    });
    const tStats = performance.now() - ts0;
    const scalars: Record<string, number> = { ...st.scalars };
    for (const [k, v] of Object.entries(scalars)) {
      if (!Number.isFinite(v) && (k.startsWith('ppo/loss') || k === 'objective/kl')) {
        throw new NonFiniteError(
          `${k} became ${v} at this step: the policy diverged (try a lower learning rate, ppo.maxGradNorm, or ppo.useScoreScaling)`,
        );
      }
    }
    this.klCtl.update(scalars['objective/kl']!, B);
    scalars['ppo/learning_rate'] = this.optimiser.learningRate();
    this.optimiser.advanceSchedule();
    scalars['ppo/skipped_minibatches'] = skipped;
    scalars['ppo/epochs_run'] = stoppedAt === null ? cfg.ppoEpochs : stoppedAt + 1;
    scalars['time/ppo/forward_pass'] = tRollout / 1000;
    scalars['time/ppo/compute_rewards'] = tRewards / 1000;
    scalars['time/ppo/compute_advantages'] = tAdv / 1000;
    scalars['time/ppo/optimize_step'] = tOpt / 1000;
    scalars['time/ppo/calc_stats'] = tStats / 1000;
    scalars['time/ppo/total'] = (performance.now() - t0) / 1000;
    // High-water mark of distinct backend buffers during this step (rollout, losses, gradients, updates).
    scalars['memory/peak_bytes'] = peak.stop();
    if (scalars['objective/kl']! < -1) {
      warnings.push(
        `negative KL (${scalars['objective/kl']!.toFixed(3)}): the policy assigns its own samples lower probability than the reference does — usually generation settings differ from the scoring pass (top-k/top-p/min tokens) or padding is wrong`,
      );
    }
    if (skipped > 0) {
      warnings.push(
        `${skipped} of ${trainStats.length} mini-batches skipped: their mean probability ratio exceeded ppo.ratioThreshold = ${cfg.ratioThreshold} (the policy moved too far from the rollout; Adam still moved by momentum)`,
      );
    }
    const arrays: Record<string, Float64Array> = {
      'objective/kl_dist': st.arrays['objective/kl_dist'],
      'ppo/policy/advantages': st.arrays['ppo/policy/advantages'],
      'ppo/policy/ratio': st.arrays['ppo/policy/ratio'],
      'tokens/responses_dist': st.arrays['tokens/responses_dist'],
    };
    return { scalars, arrays, scores, warnings };
  }
}

/** {@link PpoCompute} on this thread: today's single-threaded path. */
export class LocalCompute implements PpoCompute {
  constructor(
    private readonly policy: Policy,
    private readonly cfg: PpoConfig,
  ) {}

  /** Policy and reference log-probs and values of the whole batch, `[B, L-1]` each, on the host. */
  async rollout(batch: PpoBatch): Promise<PpoRollout> {
    const B = batch.batchSize;
    const T = batch.length - 1;
    const full = this.cfg.klPenalty === 'full';
    const host = shardRollout(
      this.policy,
      { b: B, L: batch.length, inputIds: batch.inputIds, attentionMask: batch.attentionMask },
      this.cfg.miniBatchSize,
      full,
    );
    const f64 = (x: Float32Array): Float64BT => ({ data: Float64Array.from(x), B, T }); // [B, T]
    return {
      logprobs: f64(host.logprobs),
      refLogprobs: f64(host.refLogprobs),
      values: f64(host.values),
      ...(host.fullKls ? { fullKls: f64(host.fullKls) } : {}),
    };
  }

  /** Forward + PPO loss + gradients for one mini-batch (rows of the batch). Caller disposes `grads`. */
  async minibatch(batch: PpoBatch, rows: number[], roll: PpoRollout, adv: PpoAdvantages): Promise<PpoMinibatchResult> {
    const L = batch.length;
    const T = L - 1;
    const b = rows.length;
    const f32 = (x: Float64Array) => tf.tensor2d(Float32Array.from(takeRows(x, T, rows)), [b, T], 'float32'); // [b, T]
    const fixed = tf.tidy(() => ({
      ids: tf.tensor2d(takeRows(batch.inputIds, L, rows), [b, L], 'int32'), // [b, L]
      am: tf.tensor2d(takeRows(batch.attentionMask, L, rows), [b, L], 'int32'), // [b, L]
      oldLogprobs: f32(roll.logprobs.data),
      oldValues: f32(adv.values.data),
      advantages: f32(adv.advantages.data),
      returns: f32(adv.returns.data),
      mask: f32(batch.mask),
    }));
    const vars = this.policy.trainableVariables();
    let out!: PpoLossTfOutput;
    let entropy: tf.Scalar | undefined;
    const lean = this.cfg.klPenalty !== 'full' && this.policy.tokenStats !== undefined;
    const { value, grads } = tf.variableGrads(() => {
      if (lean) {
        const s = this.policy.tokenStats!(fixed.ids, fixed.am, 'policy'); // [b, T] each
        // policy/entropy as ppoLossTf computes it from logits: masked mean of logsumexp − Σ p·z.
        entropy = tf.keep(tf.div(tf.sum(tf.mul(s.entropy, fixed.mask)), tf.sum(fixed.mask)) as tf.Scalar); // []
        out = keepPpoLossTfOutput(
          ppoLossTf(
            {
              logprobs: s.logprobs,
              vpreds: s.values,
              oldLogprobs: fixed.oldLogprobs,
              oldValues: fixed.oldValues,
              advantages: fixed.advantages,
              returns: fixed.returns,
              mask: fixed.mask,
            },
            this.cfg,
          ),
        );
        return out.loss;
      }
      const { logits, values } = this.policy.forward(fixed.ids, fixed.am, 'policy');
      const lg = logits.slice([0, 0, 0], [-1, T, -1]) as tf.Tensor3D; // [b, T, V]
      const labels = slice2(fixed.ids, [1, T]) as tf.Tensor2D; // [b, T]
      out = keepPpoLossTfOutput(
        ppoLossTf(
          {
            logprobs: logprobsFromLogitsTf(lg, labels),
            vpreds: slice2(values, [0, T]) as tf.Tensor2D,
            oldLogprobs: fixed.oldLogprobs,
            oldValues: fixed.oldValues,
            advantages: fixed.advantages,
            returns: fixed.returns,
            mask: fixed.mask,
            logits: lg,
          },
          this.cfg,
        ),
      );
      return out.loss;
    }, vars);
    const advRows: Float64BT = { data: takeRows(adv.advantages.data, T, rows), B: b, T };
    let stats = await readPpoLossStats(out, advRows);
    if (entropy) {
      stats = { ...stats, 'policy/entropy': (await entropy.data())[0]! };
      entropy.dispose();
    }
    const skip = (await out.skipped.data())[0] === 1;
    disposePpoLossTfOutput(out);
    value.dispose();
    tf.dispose(Object.values(fixed));
    return { grads: vars.map((v) => grads[v.name]!), stats, skip };
  }
}
