import { inject, injectable, multiInject, optional } from 'inversify';
import { TOKENS } from '../tokens.js';
import type { ResolvedConfig } from '../config/validate.js';
import type { RunContext } from '../di/container.js';
import type { PluginRegistry } from '../plugin/registry.js';
import type { Policy } from '../interfaces/policy.js';
import type { RewardModel, RewardTransform } from '../interfaces/reward.js';
import { toxicProbability } from '../interfaces/reward.js';
import type { Dataset, PromptRecord } from '../interfaces/dataset.js';
import type { Optimiser } from '../interfaces/optimiser.js';
import type { MemoryStrategy } from '../interfaces/memory.js';
import type { EvalReport, Hook, StepReport, StepSample } from '../interfaces/hook.js';
import { Rng } from '../util/rng.js';
import { LengthSampler } from '../ppo/length-sampler.js';
import { prepareQueries, QueryQueue, type Query } from '../ppo/prompts.js';
import { PpoStepper, type PpoStepResult } from '../ppo/step.js';
import { envRewardStats } from '../ppo/step-stats.js';
import { batchRewards, DEFAULT_ZERO_VARIANCE_STEPS, ZeroVarianceGuard, type BatchRewards } from '../ppo/reward.js';
import { evaluate, EvalInterrupted, type EvalResult } from '../eval/evaluate.js';
import { readCheckpoint, rebaseOptimiserState, type TrainerState } from './checkpoint.js';
import { Checkpointer } from './checkpointer.js';
import { mainThread, type TrainerCompute } from './trainer-compute.js';
import { runToStop, type StopReason } from './stop.js';
import { ParallelCompute, resolveWorkers } from '../parallel/parallel-compute.js';
import { mean } from '../util/mean.js';

/** Evaluation figures without the samples (what summaries and checkpoints keep). */
export type EvalFigures = Omit<EvalResult, 'samples'>;

export interface TrainOutcome {
  status: 'done' | 'interrupted' | 'failed';
  step: number;
  totalSteps: number;
  elapsedMs: number;
  evalBefore?: EvalFigures;
  evalAfter?: EvalFigures;
  /** Last step's TRL statistics. */
  final: Record<string, number>;
  /** Mean of each statistic over the last 10 steps. */
  lastK: Record<string, number>;
  checkpoint?: string;
  error?: string;
}

/**
 * What {@link Trainer.train} takes: `hooks` run before the configured ones (the run's plumbing, e.g. the queue's arm
 * channel), `resumeFrom` is the checkpoint folder to continue from (the run folder's owner picks it).
 */
interface TrainOptions {
  hooks: Hook[];
  sinks: TrainerSinks;
  signal?: AbortSignal;
  resumeFrom?: string | null;
}

/** Steps averaged into a summary's `lastK`. */
const LAST_K = 10;

/** Where the trainer reports besides hooks (evaluation figures reach hooks, TensorBoard's among them, via onEval). */
interface TrainerSinks {
  log(message: string): void;
}

const stripSamples = ({ samples: _s, ...rest }: EvalResult): EvalFigures => rest;

/**
 * The PPO detox loop, top to bottom: prompts → responses → classifier → reward → PPO step,
 * with evaluation before and after, checkpoints, and hooks for everything else.
 */
@injectable()
export class Trainer {
  constructor(
    @inject(TOKENS.Config) private readonly cfg: ResolvedConfig,
    @inject(TOKENS.Run) private readonly run: RunContext,
    @inject(TOKENS.Registry) private readonly plugins: PluginRegistry,
    @inject(TOKENS.Policy) private readonly policy: Policy,
    @inject(TOKENS.RewardModel) private readonly classifier: RewardModel,
    @inject(TOKENS.RewardTransform) private readonly transform: RewardTransform,
    @inject(TOKENS.Dataset) private readonly dataset: Dataset,
    @inject(TOKENS.Optimiser) private readonly optimiser: Optimiser,
    @multiInject(TOKENS.MemoryStrategy) @optional() private readonly memory: MemoryStrategy[] = [],
    @multiInject(TOKENS.Hook) @optional() private readonly userHooks: Hook[] = [],
    @multiInject(TOKENS.EvalClassifier) @optional() private readonly evalClassifiers: RewardModel[] = [],
  ) {}

  /** The hooks of the run in progress (for {@link forcedExit}). */
  private activeHooks: Hook[] = [];

  /**
   * The user insisted on stopping (a second Ctrl-C): every hook's synchronous `onForcedExit`, so what they buffer is
   * on disk before the process exits. Never throws.
   */
  forcedExit(): void {
    for (const h of this.activeHooks) {
      try {
        h.onForcedExit?.();
      } catch {
        /* exiting anyway: the other hooks still get their turn */
      }
    }
  }

  /**
   * Trains (see the class doc). With `workers` > 1 the sampling and the PPO forward/backward run data parallel on
   * worker threads (core/parallel); the threads are terminated whatever way training ends. If a worker fails, the
   * step in progress is finished on the main thread, checkpointed as a normal (resumable) step, and the run stops
   * with status 'failed' and a message naming the worker.
   */
  async train(opts: TrainOptions): Promise<TrainOutcome> {
    const workers = resolveWorkers(this.cfg.workers, this.cfg.backend);
    let parallel: ParallelCompute | undefined;
    if (workers > 1) {
      const t0 = Date.now();
      parallel = await ParallelCompute.start({
        config: this.cfg,
        configDir: this.run.configDir,
        policy: this.policy,
        workers,
        backendOptions: { matmul: this.cfg.matmul },
        plugins: this.plugins,
        rewardModel: this.classifier,
      });
      opts.sinks.log(`workers: ${workers} threads, data parallel (replicas built in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    try {
      return await this.trainWith(opts, parallel);
    } finally {
      await parallel?.close();
    }
  }

  private async trainWith(opts: TrainOptions, parallel: ParallelCompute | undefined): Promise<TrainOutcome> {
    const { cfg, policy } = this;
    const hooks = [...opts.hooks, ...(this.userHooks ?? [])];
    this.activeHooks = hooks;
    const log = opts.sinks.log;
    const started = Date.now();
    // Sampling and scoring: on the worker threads or on this one, decided once.
    const compute: TrainerCompute = parallel ?? mainThread(policy);

    // 1. Data: prompts cut to their sampled lengths, an endless shuffled queue of batches.
    const splits = await this.dataset.load();
    log(
      `data: ${splits.train.length} training and ${splits.heldOut.length} held-out prompts from ${splits.report.source}` +
        (Object.keys(splits.report.dropped).length
          ? ` (dropped: ${Object.entries(splits.report.dropped)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')})`
          : ''),
    );
    const responseLengths = new LengthSampler(cfg.generation.responseTokens[0], cfg.generation.responseTokens[1]);
    const queries = prepareQueries({
      prompts: splits.train,
      tokenizer: policy.tokenizer,
      promptTokens: cfg.data.promptTokens,
      maxResponseTokens: responseLengths.max - 1,
      contextLength: policy.contextLength,
      seed: cfg.seed,
    });
    const queue = new QueryQueue(queries, cfg.ppo.batchSize, cfg.seed);
    const rng = { generation: new Rng(cfg.seed).fork('generation'), ppo: new Rng(cfg.seed).fork('ppo') };
    const stepper = new PpoStepper(policy, this.optimiser, this.memory ?? [], cfg.ppo, rng.ppo, parallel);
    const classifier = { name: this.classifier.name, labels: this.classifier.labels, neutralIndex: this.classifier.neutralIndex };

    // 2. Resume, or measure the initial policy.
    const ckpt = opts.resumeFrom ?? null;
    const resumed = ckpt ? await this.resume(ckpt, { compute, stepper, queue, rng }, log) : undefined;
    let step = resumed?.step ?? 0;
    let evalBefore = resumed?.evalBefore as EvalFigures | undefined;
    const priorMs = resumed?.elapsedMs ?? 0;
    // The statistics of the last LAST_K steps (summary.json's final and last-K figures), carried across a resume.
    const history: Record<string, number>[] = [...(resumed?.recentStats ?? [])];
    const total = cfg.train.steps;
    const runEnd = async (reason: TrainOutcome['status']) => {
      for (const h of hooks) await Promise.resolve(h.onRunEnd?.({ reason, step })).catch(() => {});
    };
    // An evaluation's figures to every hook's onEval (TensorBoard writes them at `at`).
    const reportEval = async (result: EvalResult, phase: EvalReport['phase'], at: number) => {
      const report: EvalReport = { step: at, phase, figures: evalScalars(result), result };
      for (const h of hooks) await h.onEval?.(report);
    };
    try {
      for (const h of hooks) await h.onRunStart?.({ runDir: this.run.runDir, totalSteps: total, startStep: step });
    } catch (err) {
      await runEnd('failed'); // the hooks that opened their files close them
      throw err;
    }
    if (!ckpt && cfg.eval.enabled) {
      try {
        const r = await this.evaluate(splits.heldOut, 'before', log, opts.signal, compute);
        evalBefore = stripSamples(r);
        await reportEval(r, 'before', 0);
      } catch (err) {
        await runEnd(err instanceof EvalInterrupted ? 'interrupted' : 'failed');
        if (!(err instanceof EvalInterrupted)) throw err;
        return { status: 'interrupted', step: 0, totalSteps: cfg.train.steps, elapsedMs: Date.now() - started, final: {}, lastK: {} };
      }
    }

    const zeroVariance = new ZeroVarianceGuard(
      cfg.reward.zeroVarianceSteps === undefined ? DEFAULT_ZERO_VARIANCE_STEPS : cfg.reward.zeroVarianceSteps,
      {
        model: (cfg.reward.model as { type: string }).type,
        labels: classifier.labels,
        neutralIndex: classifier.neutralIndex,
        transform: (cfg.reward.transform as { type: string }).type,
      },
      // A resumed run: as its checkpoint says (older checkpoints: whether the reward varied in their recent steps).
      resumed?.rewardVaried ?? history.some((h) => (h['env/reward_std'] ?? 0) > 0),
    );
    const saver = new Checkpointer({
      runDir: this.run.runDir,
      policy,
      optimiser: this.optimiser,
      hooks,
      train: cfg.train,
      log,
      state: () => ({
        version: 1,
        step,
        queue: queue.getState(),
        stepper: stepper.getState(),
        rng: { generation: rng.generation.state(), ppo: rng.ppo.state() },
        optimiser: { step: 0, scalars: {} },
        evalBefore,
        elapsedMs: priorMs + (Date.now() - started),
        recentStats: [...history],
        config: JSON.parse(JSON.stringify(cfg)) as unknown,
        rewardVaried: zeroVariance.varied,
      }),
    });

    // A batch of prompts, the policy's responses, their text scored by the classifier, the rewards of the transform
    // and the hooks' onReward (with what was scored: on this thread whatever `workers` is).
    const rollout = async (): Promise<Rollout> => {
      const batch = queue.next();
      const tg0 = performance.now();
      const genOpts = {
        maxNewTokens: responseLengths.sample(rng.generation),
        minNewTokens: cfg.generation.minNewTokens,
        temperature: cfg.generation.temperature,
        topK: cfg.generation.topK,
        topP: cfg.generation.topP,
        rng: rng.generation,
      };
      const prompts = batch.map((q) => q.ids);
      const responses = await compute.generate(prompts, genOpts);
      const genSeconds = (performance.now() - tg0) / 1000;
      // Only the response text is scored (the study's setting).
      const texts = responses.map((r) => policy.tokenizer.decode(r, { skipSpecialTokens: true }));
      const tr0 = performance.now();
      const logits = await compute.classify(texts, this.classifier);
      const rewards = await batchRewards(this.transform, hooks, logits, {
        prompts: batch.map((q) => q.text),
        responses: texts,
        promptTokens: batch.map((q) => q.ids.length),
        responseTokens: responses.map((r) => r.length),
        logits,
        rewardModel: classifier,
        step: step + 1,
      });
      return { batch, responses, texts, logits, rewards, genSeconds, rewardSeconds: (performance.now() - tr0) / 1000 };
    };
    // The step's statistics (kept for the summary), samples and distributions to every hook's onStep.
    const reportStep = async (roll: Rollout, result: PpoStepResult, warning: string | undefined, t0: number) => {
      const { batch, texts, logits, rewards } = roll;
      const rawScores = rewards.scores; // [B]
      const stats: Record<string, number> = {
        ...envStats(rawScores),
        ...(rewards.shaped ? { 'env/transform_score_mean': mean(rewards.transformScores) } : {}),
        ...result.scalars,
        'env/toxicity_mean': mean(logits.map((l) => toxicProbability(l, this.classifier.neutralIndex))),
        'time/generate': roll.genSeconds,
        'time/reward': roll.rewardSeconds,
        'time/step': (performance.now() - t0) / 1000,
      };
      history.push(stats);
      if (history.length > LAST_K) history.shift();
      const samples: StepSample[] = batch.map((q, i) => ({
        prompt: q.text,
        response: texts[i]!,
        score: rawScores[i]!,
        reward: result.scores[i]!,
        toxicity: toxicProbability(logits[i]!, this.classifier.neutralIndex),
        ...(rewards.shaped ? { transformScore: rewards.transformScores[i]! } : {}),
      }));
      const report: StepReport = {
        step,
        totalSteps: total,
        stats,
        rewards: rawScores,
        samples: samples.slice(0, 4),
        allSamples: samples,
        distributions: result.arrays,
        warnings: warning ? [warning, ...result.warnings] : result.warnings,
        elapsedMs: priorMs + (Date.now() - started),
      };
      for (const h of hooks) await h.onStep?.(report);
    };

    // 3. The loop: rollout → PPO step → hooks → periodic evaluation → checkpoint cadence, until it stops.
    const loop = async (): Promise<StopReason> => {
      while (step < total) {
        // Let pending signal handlers run: every await in a step may resolve without returning to the event loop.
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) return { kind: 'interrupted' };
        for (const h of hooks) await h.onBeforeStep?.({ step: step + 1, totalSteps: total });
        const t0 = performance.now();
        const roll = await rollout();
        const guard = zeroVariance.check(roll.rewards.scores, step + 1);
        if (guard.failure) return { kind: 'zero-variance', failure: guard.failure, warning: guard.warning };
        const result = await stepper.step(
          roll.batch.map((q) => q.ids),
          roll.responses.map((r) => (r.length ? r : [policy.tokenizer.eosTokenId ?? 0])),
          roll.rewards.scores,
        );
        step++;
        await reportStep(roll, result, guard.warning, t0);
        if (compute.failure) return { kind: 'worker-failed', failure: compute.failure };
        // Periodic evaluation, before the step's checkpoint (whose onCheckpoint then makes its figures durable too). It
        // samples from its own stream seeded by eval.seed, as before/after do: the training streams are untouched.
        if (cfg.eval.enabled && cfg.eval.every > 0 && step % cfg.eval.every === 0 && step < total) {
          const r = await unlessInterrupted(this.evaluate(splits.heldOut, `at step ${step}`, log, opts.signal, compute));
          if (!r) return { kind: 'interrupted' }; // the step itself is complete: it is checkpointed
          await reportEval(r, 'periodic', step);
        }
        await saver.maybeSave(step, total);
      }
      return { kind: 'done' };
    };

    // How it stopped → status, error, checkpoint, log line (core/training/stop.ts).
    const stopped = await runToStop(loop, { step: () => step, saver, log, runEnd });
    let status = stopped.status;
    const error = stopped.error;

    // 4. Measure the trained policy on the same held-out prompts.
    let evalAfter: EvalFigures | undefined;
    try {
      if (status === 'done' && cfg.eval.enabled) {
        const r = await unlessInterrupted(this.evaluate(splits.heldOut, 'after', log, opts.signal, compute));
        if (r) {
          evalAfter = stripSamples(r);
          await reportEval(r, 'after', step);
        } else {
          status = 'interrupted'; // training is complete and checkpointed; only the final evaluation was cut short
        }
      }
    } catch (err) {
      status = 'failed'; // the hooks' onRunEnd hears it (training itself is checkpointed)
      throw err;
    } finally {
      await runEnd(status);
    }
    return {
      status,
      step,
      totalSteps: total,
      elapsedMs: priorMs + (Date.now() - started),
      evalBefore,
      evalAfter,
      final: history[history.length - 1] ?? {},
      lastK: Object.fromEntries(Object.keys(history[0] ?? {}).map((k) => [k, mean(history.map((h) => h[k]!))])),
      checkpoint: saver.last,
      ...(error ? { error } : {}),
    };
  }

  /**
   * Continues from checkpoint `dir`: the policy's weights (the workers' replicas follow), the optimiser's moments,
   * the stepper's controllers, the queue's position and both random streams. Returns the rest of its trainer state.
   */
  private async resume(
    dir: string,
    parts: { compute: TrainerCompute; stepper: PpoStepper; queue: QueryQueue; rng: { generation: Rng; ppo: Rng } },
    log: (m: string) => void,
  ): Promise<TrainerState> {
    const { state, optimiser } = await readCheckpoint(dir);
    await this.policy.restore(`${dir}/policy`);
    parts.compute.weightsChanged();
    const vars = this.policy.trainableVariables();
    this.optimiser.setState(rebaseOptimiserState(optimiser, vars), vars);
    parts.stepper.setState(state.stepper);
    parts.queue.setState(state.queue);
    parts.rng.generation.setState(state.rng.generation);
    parts.rng.ppo.setState(state.rng.ppo);
    log(`resumed from ${dir} at step ${state.step}`);
    return state;
  }

  private async evaluate(
    prompts: PromptRecord[],
    label: string,
    log: (m: string) => void,
    signal: AbortSignal | undefined,
    compute: TrainerCompute,
  ): Promise<EvalResult> {
    if (prompts.length === 0) throw new Error('eval.enabled is true but the dataset has no held-out prompts');
    const t0 = Date.now();
    const r = await evaluate({
      policy: this.policy,
      classifier: compute.splitClassifier(this.classifier),
      cfg: this.cfg.eval,
      signal,
      crossCheck: this.evalClassifiers,
      prompts: prompts.map((p) => p.text),
      fluency: (ids, mask) => this.policy.forward(ids, mask, 'reference').logits,
      // Sampling stays on the main thread: the figures then do not depend on `workers` and equal `detox-lab eval`'s.
    });
    const cross = (r.crossCheck ?? [])
      .map((c) => `, ${c.classifier} ${c.toxicity.mean.toFixed(4)} ± ${c.toxicity.std.toFixed(4)}`)
      .join('');
    log(
      `eval ${label}: toxicity ${r.toxicity.mean.toFixed(4)} ± ${r.toxicity.std.toFixed(4)}${cross} over ${r.toxicity.n} continuations, ` +
        `distinct-2 ${r.distinct2.toFixed(3)}, perplexity ${r.perplexity.toFixed(2)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    return r;
  }
}

/** `evaluation`'s result, or undefined when it was interrupted (EvalInterrupted); other errors propagate. */
async function unlessInterrupted(evaluation: Promise<EvalResult>): Promise<EvalResult | undefined> {
  try {
    return await evaluation;
  } catch (err) {
    if (err instanceof EvalInterrupted) return undefined;
    throw err;
  }
}

/** One step's rollout: the batch, the sampled responses and their text, the classifier's logits, the rewards. */
interface Rollout {
  batch: Query[];
  responses: number[][];
  texts: string[];
  logits: number[][];
  rewards: BatchRewards;
  genSeconds: number;
  rewardSeconds: number;
}

function envStats(rewards: readonly number[]): Record<string, number> {
  const s = envRewardStats(rewards);
  return { 'env/reward_mean': s['env/reward_mean'], 'env/reward_std': s['env/reward_std'] };
}

/** Evaluation figures as TensorBoard scalars. */
function evalScalars(e: EvalFigures): Record<string, number> {
  return {
    'eval/toxicity_mean': e.toxicity.mean,
    'eval/toxicity_std': e.toxicity.std,
    'eval/distinct_1': e.distinct1,
    'eval/distinct_2': e.distinct2,
    'eval/distinct_3': e.distinct3,
    'eval/perplexity': e.perplexity,
    ...Object.fromEntries(
      (e.crossCheck ?? []).flatMap((c) => [
        [`eval/toxicity_mean/${c.classifier}`, c.toxicity.mean],
        [`eval/toxicity_std/${c.classifier}`, c.toxicity.std],
      ]),
    ),
    ...(e.rtp
      ? { 'eval/expected_max_toxicity': e.rtp.expectedMaxToxicity.mean, 'eval/toxicity_probability': e.rtp.toxicityProbability }
      : {}),
  };
}
