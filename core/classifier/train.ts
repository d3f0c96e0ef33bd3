/**
 * Fine-tuning a causal LM into a toxicity classifier (`GPT2ForSequenceClassification`, labels [neutral, toxic]) —
 * transformers' sequence-classification fine-tuning in this project, read top to bottom:
 *
 * 1. tokenize every text once (no special tokens, truncated to `maxLength`); texts with no token are dropped;
 * 2. each epoch: small sources are repeated so that every source makes up at least `minSourceShare` of the epoch
 *    (ToxiGen has ~600 statements beside Davidson's ~22 000 tweets), the order is shuffled (seeded) and texts of
 *    similar length are batched together (sorted within chunks of 50 batches, batch order shuffled) so little
 *    compute goes to padding;
 * 3. loss: cross-entropy weighted per (source, class) so that within each source both classes weigh the same
 *    (`weighting: 'class'`; torch's weighted mean: Σ wᵢ·CEᵢ / Σ wᵢ), or plain (`'none'`);
 * 4. AdamW (rank-2 weights decay, biases and norms do not), linear warm-up then cosine decay over every planned
 *    step, global-norm clipping — as core/pretrain;
 * 5. every `evalEvery` steps and at each epoch's end: P(toxic) on the validation split, ROC AUC / accuracy / F1 per
 *    source and the ToxiGen per-group false-positive rates (core/classifier/metrics.ts); the selection metric is the
 *    mean over sources of the per-source AUC; the best weights are kept (host copy) and written to
 *    `<runDir>/checkpoints/best`; after `patience` evaluations without improvement training stops early;
 * 6. the best weights are saved as a Hugging Face folder (config.json, model.safetensors, tokenizer files, train.json).
 *    An AbortSignal (Ctrl-C) stops after the current step and saves the best so far ('interrupted').
 */
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import type { CausalSequenceClassifier } from '../model/gpt2-classifier.js';
import type { Tokenizer } from '../model/io/tokenizer.js';
import { DecayGroupsAdamW } from '../optim/decay-groups.js';
import { mean } from '../compare/stats.js';
import { Progress } from '../logging/progress.js';
import { TensorBoardWriter } from '../logging/tensorboard.js';
import { Rng } from '../util/rng.js';
import { InputError } from '../errors.js';
import type { LabelledText } from './data.js';
import { classifierReport, formatClassifierReport, type ClassifierReport } from './metrics.js';

/** Optimisation settings of {@link trainClassifier}. */
export interface ClassifierHyperparameters {
  /** Most passes over the (re-sampled) training set. */
  epochs: number;
  /** Texts per step. */
  batchSize: number;
  /** Tokens kept per text (longer texts are truncated). */
  maxLength: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Linear warm-up steps, then cosine decay to 0 at the last planned step. */
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  /** Global gradient-norm clip, or null. */
  maxGradNorm: number | null;
  /** 'class': within each source both classes weigh the same; 'none': plain cross-entropy. */
  weighting: 'class' | 'none';
  /** Smaller sources are repeated to make up at least this share of an epoch (0 = no repetition). */
  minSourceShare: number;
  /** Keep the token and position embeddings as pretrained (train the blocks and the head only). */
  freezeEmbeddings: boolean;
  /**
   * Validate and save an exponential moving average of the weights (decay per step; 0 = the weights themselves).
   * The average's decay is min(ema, (1 + step) / (10 + step)), so early steps are not drowned by the initial weights.
   */
  ema: number;
  /** Evaluate every this many steps (0 = only at epoch ends). */
  evalEvery: number;
  /** Stop after this many evaluations without a better validation AUC (0 = never stop early). */
  patience: number;
  /** Seed of the head's initialisation and of the data order. */
  seed: number;
}

/** Everything {@link trainClassifier} needs. */
interface TrainClassifierOptions extends ClassifierHyperparameters {
  /** The classifier to train (body from a causal LM, new head); trained in place and left with the best weights. */
  classifier: CausalSequenceClassifier;
  tokenizer: Tokenizer;
  train: LabelledText[];
  validation: LabelledText[];
  /** Output Hugging Face folder. */
  outDir: string;
  /** Run folder: TensorBoard events and checkpoints/ (undefined: none). */
  runDir?: string;
  /** Files written into the output folder beside the model (tokenizer.json, tokenizer_config.json). */
  extraFiles?: Record<string, string>;
  /** Extra fields of train.json (base model, data sources, command). */
  info?: Record<string, unknown>;
  signal?: AbortSignal;
  log?: (message: string) => void;
  progress?: boolean;
  /** Called after every step with the step (from 1) and its training loss. */
  onStep?: (step: number, loss: number) => void;
}

/** What {@link trainClassifier} did. */
export interface TrainClassifierResult {
  status: 'completed' | 'early-stopped' | 'interrupted';
  steps: number;
  epochs: number;
  /** Step whose weights were saved (0 = the initial weights). */
  bestStep: number;
  /** Mean over sources of the per-source validation AUC of the saved weights. */
  bestAuc: number;
  /** Validation report of the saved weights. */
  report: ClassifierReport;
  losses: number[];
  seconds: number;
  tokensPerSecond: number;
  outDir: string;
}

/** File holding how the classifier was trained, inside the output folder. */
const TRAIN_INFO_FILE = 'train.json';

/** Throws an InputError naming the setting when a hyperparameter is out of range. */
export function validateClassifierHyperparameters(o: ClassifierHyperparameters, maxPositions = Infinity): void {
  const int = (flag: string, v: number, min: number, max = Infinity, why = '') => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new InputError(
        `train-classifier: ${flag} must be an integer ${max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`}${why}, got ${v}`,
      );
    }
  };
  int('--epochs', o.epochs, 1);
  int('--batch-size', o.batchSize, 1);
  int('--max-length', o.maxLength, 1, maxPositions, maxPositions === Infinity ? '' : ` (the base model's n_positions is ${maxPositions})`);
  int('--warmup', o.warmupSteps, 0);
  int('--eval-every', o.evalEvery, 0);
  int('--patience', o.patience, 0);
  int('--seed', o.seed, 0);
  if (!(o.learningRate > 0 && Number.isFinite(o.learningRate)))
    throw new InputError(`train-classifier: --lr must be a finite number > 0, got ${o.learningRate}`);
  if (!(o.weightDecay >= 0 && Number.isFinite(o.weightDecay)))
    throw new InputError(`train-classifier: weightDecay must be a finite number ≥ 0, got ${o.weightDecay}`);
  if (o.maxGradNorm !== null && !(o.maxGradNorm > 0 && Number.isFinite(o.maxGradNorm)))
    throw new InputError(`train-classifier: maxGradNorm must be > 0 or null, got ${o.maxGradNorm}`);
  if (!(o.minSourceShare >= 0 && o.minSourceShare < 1))
    throw new InputError(`train-classifier: --source-share must be in [0, 1), got ${o.minSourceShare}`);
  if (!(o.ema >= 0 && o.ema < 1)) throw new InputError(`train-classifier: --ema must be a decay in [0, 1), got ${o.ema}`);
  if (o.weighting !== 'class' && o.weighting !== 'none')
    throw new InputError(`train-classifier: --weighting must be "class" or "none", got ${JSON.stringify(o.weighting)}`);
}

/** A tokenized example. */
interface Example {
  ids: number[];
  label: 0 | 1;
  weight: number;
}

/** Per-(source, class) loss weights: within a source both classes weigh the same, n_s / (2 · n_{s,c}). */
export function classWeights(items: readonly LabelledText[]): Map<string, [number, number]> {
  const counts = new Map<string, [number, number]>();
  for (const x of items) {
    const c = counts.get(x.source) ?? [0, 0];
    c[x.label] += 1;
    counts.set(x.source, c);
  }
  const out = new Map<string, [number, number]>();
  for (const [s, [n0, n1]] of counts) {
    const n = n0 + n1;
    out.set(s, [n0 ? n / (2 * n0) : 0, n1 ? n / (2 * n1) : 0]);
  }
  return out;
}

/** How often each source's texts appear in an epoch so that each makes up at least `minShare` of it. */
export function sourceRepeats(counts: ReadonlyMap<string, number>, minShare: number): Map<string, number> {
  const out = new Map<string, number>();
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  for (const [s, n] of counts) {
    const others = total - n;
    // n·r / (n·r + others) ≥ minShare  ⇔  r ≥ minShare · others / ((1 − minShare) · n)
    out.set(s, minShare > 0 && n > 0 ? Math.max(1, Math.round((minShare * others) / ((1 - minShare) * n))) : 1);
  }
  return out;
}

/** In-place Fisher–Yates shuffle. */
function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** One epoch's batches: shuffled, then sorted by length within chunks of 50 batches, batch order shuffled. */
export function lengthBatches(lengths: readonly number[], order: number[], batchSize: number, rng: Rng): number[][] {
  const chunk = batchSize * 50;
  const batches: number[][] = [];
  for (let s = 0; s < order.length; s += chunk) {
    const part = order.slice(s, s + chunk).sort((a, b) => lengths[a]! - lengths[b]!);
    for (let b = 0; b < part.length; b += batchSize) batches.push(part.slice(b, b + batchSize));
  }
  return shuffle(batches, rng);
}

/**
 * Weighted mean cross-entropy `Σ wᵢ·(logsumexp(zᵢ) − z_{i,yᵢ}) / Σ wᵢ` (torch's CrossEntropyLoss(weight=…)).
 * @param logits [B, L]
 * @param targetWeights [B, L] float32: wᵢ at the target class, 0 elsewhere
 * @returns []
 */
export function weightedCrossEntropy(logits: tf.Tensor2D, targetWeights: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits); // [B, L]
    return tf.div(tf.neg(tf.sum(tf.mul(logp, targetWeights))), tf.sum(targetWeights)) as tf.Scalar; // []
  });
}

/** Right-padded [B, T] ids and mask of `rows` (T = the longest row). */
function batchTensors(rows: readonly number[][], pad: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(B * T).fill(pad);
  const mask = new Int32Array(B * T);
  rows.forEach((r, b) => {
    ids.set(r, b * T);
    mask.fill(1, b * T, b * T + r.length);
  });
  return { ids: tf.tensor2d(ids, [B, T], 'int32'), mask: tf.tensor2d(mask, [B, T], 'int32') }; // [B, T] each
}

/** P(toxic) of every row (label index 1), in batches of texts of similar length. Allocates nothing that outlives it. */
async function predictToxic(
  classifier: CausalSequenceClassifier,
  rows: readonly number[][],
  batchSize = 64,
  toxicIndex = 1,
): Promise<number[]> {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.length - rows[b]!.length);
  const out = new Array<number>(rows.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const probs = tf.tidy(() => {
      const { ids, mask } = batchTensors(
        idx.map((i) => rows[i]!),
        classifier.config.padTokenId,
      );
      return tf.softmax(classifier.logits(ids, mask)); // [b, L]
    });
    const data = (await probs.data()) as Float32Array;
    probs.dispose();
    const L = classifier.labels.length;
    idx.forEach((i, k) => {
      out[i] = data[k * L + toxicIndex]!;
    });
  }
  return out;
}

/** Mean over sources of the per-source AUC (sources with one class only — AUC NaN — ignored). */
function meanSourceAuc(report: ClassifierReport): number {
  const aucs = report.sources.map((r) => r.auc).filter((a) => Number.isFinite(a));
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : NaN;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Trains and saves; see the module documentation. */
export async function trainClassifier(opts: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { classifier, tokenizer } = opts;
  validateClassifierHyperparameters(opts, classifier.config.maxPositionEmbeddings);
  const toxicIndex = classifier.labels.indexOf('toxic');
  if (toxicIndex < 0) throw new Error(`train-classifier: the classifier's labels ${JSON.stringify(classifier.labels)} have no "toxic"`);
  const pad = classifier.config.padTokenId;

  const encode = (x: LabelledText) => tokenizer.encode(x.text, { addSpecialTokens: false }).slice(0, opts.maxLength);
  const keep = (xs: LabelledText[]) => {
    const rows = xs.map(encode);
    const kept = xs.filter((_, i) => rows[i]!.length > 0);
    return { items: kept, rows: rows.filter((r) => r.length > 0), dropped: xs.length - kept.length };
  };
  const tr = keep(opts.train);
  const va = keep(opts.validation);
  if (tr.items.length === 0) throw new InputError('train-classifier: no training text has a token');
  if (new Set(tr.items.map((x) => x.label)).size < 2)
    throw new InputError('train-classifier: the training split needs both neutral (0) and toxic (1) texts');
  const weights = classWeights(tr.items);
  const examples: Example[] = tr.items.map((x, i) => ({
    ids: tr.rows[i]!,
    label: x.label,
    weight: opts.weighting === 'class' ? weights.get(x.source)![x.label] : 1,
  }));
  const sourceCounts = new Map<string, number>();
  for (const x of tr.items) sourceCounts.set(x.source, (sourceCounts.get(x.source) ?? 0) + 1);
  const repeats = sourceRepeats(sourceCounts, opts.minSourceShare);
  const epochOrder: number[] = [];
  tr.items.forEach((x, i) => {
    for (let r = 0; r < repeats.get(x.source)!; r++) epochOrder.push(i);
  });
  const stepsPerEpoch = Math.ceil(epochOrder.length / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const trainTokens = tr.rows.reduce((a, r) => a + r.length, 0);
  log(
    `train-classifier: ${tr.items.length} training texts (${trainTokens} tokens; ${tr.dropped} without a token dropped), ` +
      `${va.items.length} validation texts; per epoch ${epochOrder.length} texts (repeats ${[...repeats].map(([s, r]) => `${s} ×${r}`).join(', ')}), ` +
      `${stepsPerEpoch} steps × ${opts.epochs} epochs at most; loss weights ${[...weights].map(([s, [w0, w1]]) => `${s} ${w0.toFixed(2)}/${w1.toFixed(2)}`).join(', ')}`,
  );

  const vars = classifier.trainableVariables({ freezeEmbeddings: opts.freezeEmbeddings });
  const schedule = { kind: 'cosine' as const, warmupSteps: Math.min(opts.warmupSteps, totalSteps), totalSteps };
  const optimiser = new DecayGroupsAdamW(vars, {
    learningRate: opts.learningRate,
    betas: opts.betas,
    weightDecay: opts.weightDecay,
    schedule,
  });
  const ordered = optimiser.ordered;

  const tb = opts.runDir ? new TensorBoardWriter(opts.runDir) : undefined;
  const progress = new Progress('train-classifier', totalSteps, process.stderr, { enabled: opts.progress ?? false });
  const rng = new Rng(opts.seed).fork('train-classifier/order');
  const losses: number[] = [];
  let step = 0;
  let epoch = 0;
  let tokens = 0;
  let trainMs = 0;
  let status: TrainClassifierResult['status'] = 'completed';
  let best = {
    auc: -Infinity,
    step: 0,
    report: undefined as ClassifierReport | undefined,
    weights: undefined as Float32Array[] | undefined,
  };
  let sinceBest = 0;

  // The moving average of the weights (same order as `vars`), when asked for.
  const ema = opts.ema > 0 ? vars.map((v) => tf.variable(v, false)) : null;
  /** Runs `f` with the averaged weights in place of the current ones (restored afterwards). */
  const withAverage = async <T>(f: () => Promise<T>): Promise<T> => {
    if (!ema) return f();
    const current = vars.map((v) => tf.clone(v));
    vars.forEach((v, i) => v.assign(ema[i]!));
    try {
      return await f();
    } finally {
      vars.forEach((v, i) => v.assign(current[i]!));
      tf.dispose(current);
    }
  };

  const evaluate = async (why: string): Promise<void> => {
    const te = performance.now();
    const p = await withAverage(() => predictToxic(classifier, va.rows, 64, toxicIndex));
    const report = classifierReport(va.items, p);
    const auc = meanSourceAuc(report);
    for (const r of report.sources) {
      if (Number.isFinite(r.auc)) tb?.scalar(`val/auc/${r.source}`, r.auc, step);
      tb?.scalar(`val/accuracy/${r.source}`, r.accuracy, step);
      tb?.scalar(`val/f1/${r.source}`, r.f1, step);
    }
    if (Number.isFinite(auc)) tb?.scalar('val/auc_mean', auc, step);
    if (report.groupFpr.length) {
      tb?.scalar('val/group_fpr_mean', report.meanGroupFpr, step);
      if (report.maxOverMeanFpr !== null) tb?.scalar('val/group_fpr_max_over_mean', report.maxOverMeanFpr, step);
    }
    progress.end();
    const improved = auc > best.auc;
    log(
      `train-classifier step ${step} (${why}, epoch ${epoch}): validation AUC ${report.sources.map((r) => `${r.source} ${r.auc.toFixed(4)}`).join(', ')} ` +
        `(mean ${auc.toFixed(4)}${improved ? ', best so far' : `, best ${best.auc.toFixed(4)} at step ${best.step}`}) in ${((performance.now() - te) / 1000).toFixed(1)} s`,
    );
    if (report.groupFpr.length) {
      log(
        `  ToxiGen neutral statements flagged (P ≥ 0.5): mean group rate ${report.meanGroupFpr.toFixed(3)}, ` +
          `max/mean ${report.maxOverMeanFpr === null ? 'n/a (no false positive)' : report.maxOverMeanFpr.toFixed(2)}`,
      );
    }
    if (improved || !best.weights) {
      best = { auc, step, report, weights: await withAverage(() => classifier.snapshot()) };
      sinceBest = 0;
      if (opts.runDir) await classifier.save(path.join(opts.runDir, 'checkpoints', 'best'), { ...opts.extraFiles });
    } else {
      sinceBest += 1;
    }
    tb?.flush();
  };

  let finished = false;
  try {
    await evaluate('initial');
    training: for (epoch = 1; epoch <= opts.epochs; epoch++) {
      const batches = lengthBatches(
        tr.rows.map((r) => r.length),
        shuffle([...epochOrder], rng),
        opts.batchSize,
        rng,
      );
      for (const batch of batches) {
        if (opts.signal?.aborted) {
          status = 'interrupted';
          break training;
        }
        const ts = performance.now();
        const lr = optimiser.learningRate();
        const rows = batch.map((i) => examples[i]!.ids);
        const { ids, mask } = batchTensors(rows, pad); // [B, T] each
        const tw = new Float32Array(batch.length * classifier.labels.length);
        batch.forEach((i, b) => {
          const e = examples[i]!;
          tw[b * classifier.labels.length + (e.label === 1 ? toxicIndex : 1 - toxicIndex)] = e.weight;
        });
        const targetWeights = tf.tensor2d(tw, [batch.length, classifier.labels.length]); // [B, L]
        const { value, grads } = tf.variableGrads(() => weightedCrossEntropy(classifier.logits(ids, mask), targetWeights), ordered); // [], per variable
        tf.dispose([ids, mask, targetWeights]);
        const gradNorm = optimiser.step(
          ordered.map((v) => grads[v.name]!),
          opts.maxGradNorm,
        );
        if (ema) {
          const decay = Math.min(opts.ema, (2 + step) / (11 + step)); // step is the count before this one
          tf.tidy(() => vars.forEach((v, i) => ema[i]!.assign(tf.add(tf.mul(ema[i]!, decay), tf.mul(v, 1 - decay)))));
        }
        const loss = (await value.data())[0]!;
        value.dispose();
        step += 1;
        if (!Number.isFinite(loss))
          throw new Error(`train-classifier: the loss became ${loss} at step ${step} (learning rate ${lr}); lower --lr`);
        const dt = performance.now() - ts;
        trainMs += dt;
        const nTok = rows.reduce((a, r) => a + r.length, 0);
        tokens += nTok;
        losses.push(loss);
        tb?.scalar('train/loss', loss, step);
        tb?.scalar('train/lr', lr, step);
        if (Number.isFinite(gradNorm)) tb?.scalar('train/grad_norm', gradNorm, step);
        tb?.scalar('train/epoch', step / stepsPerEpoch, step);
        progress.update(step, {
          epoch,
          loss: mean(losses.slice(-50)),
          lr,
          'tok/s': Math.round(tokens / (trainMs / 1000)),
          'best auc': best.auc,
        });
        opts.onStep?.(step, loss);
        if (opts.evalEvery > 0 && step % opts.evalEvery === 0 && step % stepsPerEpoch !== 0) {
          await evaluate(`every ${opts.evalEvery} steps`);
          if (opts.patience > 0 && sinceBest >= opts.patience) {
            status = 'early-stopped';
            break training;
          }
        }
        await yieldToEventLoop(); // lets signal handlers run between steps
      }
      await evaluate('end of epoch');
      if (opts.patience > 0 && sinceBest >= opts.patience) {
        status = 'early-stopped';
        break;
      }
    }
    if (epoch > opts.epochs) epoch = opts.epochs;
    progress.end();
    log(
      `train-classifier: ${status} after step ${step}; saving the best weights (step ${best.step}, mean validation AUC ${best.auc.toFixed(4)})`,
    );
    classifier.restore(best.weights!);
    const seconds = (performance.now() - t0) / 1000;
    const info = {
      status,
      steps: step,
      epochs: epoch,
      bestStep: best.step,
      bestMeanAuc: best.auc,
      seconds,
      tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
      hyperparameters: hyperparameters(opts),
      data: {
        train: counts(tr.items),
        validation: counts(va.items),
        droppedWithoutTokens: { train: tr.dropped, validation: va.dropped },
        trainTokens,
        repeatsPerEpoch: Object.fromEntries(repeats),
        lossWeights: Object.fromEntries(weights),
        stepsPerEpoch,
      },
      validation: best.report,
      ...(opts.info ?? {}),
    };
    await classifier.save(opts.outDir, { ...opts.extraFiles, [TRAIN_INFO_FILE]: JSON.stringify(info, null, 2) + '\n' });
    finished = true;
    log(
      `train-classifier: saved ${opts.outDir} — validation report of the saved weights (step ${best.step}):\n` +
        formatClassifierReport([{ name: path.basename(opts.outDir), report: best.report! }]),
    );
    return {
      status,
      steps: step,
      epochs: epoch,
      bestStep: best.step,
      bestAuc: best.auc,
      report: best.report!,
      losses,
      seconds,
      tokensPerSecond: info.tokensPerSecond,
      outDir: opts.outDir,
    };
  } finally {
    tb?.close();
    if (ema) tf.dispose(ema);
    optimiser.dispose();
    if (!finished) log('train-classifier: stopped by an error; the output folder was not written');
  }
}

/** Texts per source and label. */
function counts(items: readonly LabelledText[]): Record<string, { neutral: number; toxic: number }> {
  const out: Record<string, { neutral: number; toxic: number }> = {};
  for (const x of items) {
    const c = (out[x.source] ??= { neutral: 0, toxic: 0 });
    if (x.label === 1) c.toxic += 1;
    else c.neutral += 1;
  }
  return out;
}

function hyperparameters(o: ClassifierHyperparameters): ClassifierHyperparameters {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    maxLength: o.maxLength,
    learningRate: o.learningRate,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    betas: o.betas,
    maxGradNorm: o.maxGradNorm,
    weighting: o.weighting,
    minSourceShare: o.minSourceShare,
    freezeEmbeddings: o.freezeEmbeddings,
    ema: o.ema,
    evalEvery: o.evalEvery,
    patience: o.patience,
    seed: o.seed,
  };
}
