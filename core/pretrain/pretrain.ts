/**
 * Pretraining a small GPT-2 from scratch on a plain-text corpus: causal-LM cross-entropy, AdamW with linear warm-up
 * and cosine decay, global-norm gradient clipping, held-out perplexity and text samples every few steps, TensorBoard
 * scalars and a console progress line, and an atomic Hugging Face folder at the end, every `saveEvery` steps, and when
 * the AbortSignal fires (the loop stops after the current step, saves, and reports 'interrupted').
 *
 * Weight decay follows the usual GPT recipe: matrices and embeddings (rank-2 weights) decay, biases and LayerNorm
 * parameters (rank 1) do not, so two AdamW instances share one schedule. The value head is not trained (it does
 * not take part in the loss); it is saved with its seeded initial values.
 */
import * as tf from '@tensorflow/tfjs';
import { CausalLM } from '../model/causal-lm.js';
import { generate } from '../model/generate.js';
import { makeConfig, type TransformerConfig } from '../model/arch/hf-config.js';
import type { Tokenizer } from '../model/io/tokenizer.js';
import { VHEAD_BIAS, VHEAD_WEIGHT } from '../model/arch/weight-names.js';
import { DecayGroupsAdamW } from '../optim/decay-groups.js';
import { Progress } from '../logging/progress.js';
import { TensorBoardWriter } from '../logging/tensorboard.js';
import { Rng } from '../util/rng.js';
import { packLines, TokenWindows, type CorpusSplit } from './corpus.js';
import { causalLmLoss, evaluateLoss, type EvalLoss } from './lm-loss.js';
import { savePretrained } from './save.js';
import { InputError } from '../errors.js';
import { mean } from '../util/mean.js';

/** Shape of the GPT-2 to train (the vocabulary size comes from the tokenizer). */
export interface PretrainModelShape {
  nLayers: number;
  dModel: number;
  nHeads: number;
  /** n_positions: the longest input the model accepts. */
  context: number;
}

/** Optimisation and bookkeeping settings of {@link pretrain}. */
export interface PretrainHyperparameters {
  /** Optimiser steps. */
  steps: number;
  /** Windows per step. */
  batchSize: number;
  /** Tokens per window (≤ model.context). */
  seqLen: number;
  /** Peak learning rate. */
  learningRate: number;
  /** Linear warm-up steps (then cosine decay to 0 at `steps`). */
  warmupSteps: number;
  /** AdamW decoupled weight decay of rank-2 weights. */
  weightDecay: number;
  betas: [number, number];
  /** Global gradient-norm clip, or null for none. */
  maxGradNorm: number | null;
  /** Seed of the initial weights, the window order and the samples. */
  seed: number;
  /** Held-out evaluation every this many steps (and after the last step); 0 = only at the end. */
  evalEvery: number;
  /** At most this many held-out windows per evaluation. */
  evalWindows: number;
  /** Text samples generated at each evaluation (0 = none). */
  samples: number;
  /** New tokens per sample. */
  sampleTokens: number;
  /** Save the folder every this many steps (0 = only at the end or on interrupt). */
  saveEvery: number;
}

/** Everything {@link pretrain} needs. */
export interface PretrainOptions extends PretrainHyperparameters {
  /** Training and held-out lines. */
  corpus: CorpusSplit;
  /** The tokenizer (its `<|endoftext|>` / eos token separates lines). */
  tokenizer: Tokenizer;
  model: PretrainModelShape;
  /** Output Hugging Face folder. */
  outDir: string;
  /** TensorBoard folder, or undefined for none. */
  logDir?: string;
  /** Stops after the current step and saves. */
  signal?: AbortSignal;
  /** Status lines (default: none). */
  log?: (message: string) => void;
  /** Console progress line on stderr (default false). */
  progress?: boolean;
  /** Extra fields stored in pretrain.json (e.g. how the tokenizer was made). */
  info?: Record<string, unknown>;
  /** Called after every optimiser step with the step number (from 1) and its training loss. */
  onStep?: (step: number, loss: number) => void;
  /** Return the trained model in the result (the caller then disposes it) instead of disposing it. */
  keepModel?: boolean;
}

/** What {@link pretrain} did. */
export interface PretrainResult {
  status: 'completed' | 'interrupted';
  /** Optimiser steps taken. */
  steps: number;
  /** Target tokens trained on. */
  tokens: number;
  /** Training loss of the first and of the last step (nats per token). */
  firstLoss: number;
  lastLoss: number;
  /** Mean training loss over the last min(20, steps) steps. */
  recentLoss: number;
  /** Training loss of every step. */
  losses: number[];
  /** Held-out loss at the end (NaN without held-out windows). */
  eval: EvalLoss;
  /** Training throughput over all steps (target tokens per second of optimiser steps, evaluation excluded). */
  tokensPerSecond: number;
  /** Wall-clock seconds of the whole call. */
  seconds: number;
  /** Trainable parameters (value head excluded). */
  parameters: number;
  /** Bytes of the float32 model.safetensors payload. */
  modelBytes: number;
  /** Samples generated at the last evaluation. */
  samples: string[];
  config: TransformerConfig;
  outDir: string;
  /** The trained model, only with `keepModel` (the caller disposes it). */
  model?: CausalLM;
}

/** Throws when a hyperparameter is out of range; the message names the field and what is allowed. */
export function validatePretrainOptions(o: PretrainHyperparameters & { model: PretrainModelShape }): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new InputError(`pretrain: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  int('steps', o.steps, 1);
  int('batchSize', o.batchSize, 1);
  int('seqLen', o.seqLen, 2);
  int('warmupSteps', o.warmupSteps, 0);
  int('seed', o.seed, 0);
  int('evalEvery', o.evalEvery, 0);
  int('evalWindows', o.evalWindows, 1);
  int('samples', o.samples, 0);
  int('sampleTokens', o.sampleTokens, 1);
  int('saveEvery', o.saveEvery, 0);
  int('model.nLayers', o.model.nLayers, 1);
  int('model.dModel', o.model.dModel, 1);
  int('model.nHeads', o.model.nHeads, 1);
  int('model.context', o.model.context, 2);
  if (o.model.dModel % o.model.nHeads !== 0) {
    throw new InputError(`pretrain: model.dModel (${o.model.dModel}) must be divisible by model.nHeads (${o.model.nHeads})`);
  }
  if (o.seqLen > o.model.context) throw new InputError(`pretrain: seqLen (${o.seqLen}) must be ≤ model.context (${o.model.context})`);
  if (o.warmupSteps > o.steps) throw new InputError(`pretrain: warmupSteps (${o.warmupSteps}) must be ≤ steps (${o.steps})`);
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate))
    throw new InputError(`pretrain: learningRate must be a finite number > 0, got ${o.learningRate}`);
  if (!(o.weightDecay >= 0) || !Number.isFinite(o.weightDecay))
    throw new InputError(`pretrain: weightDecay must be a finite number ≥ 0, got ${o.weightDecay}`);
  if (o.maxGradNorm !== null && !(o.maxGradNorm > 0 && Number.isFinite(o.maxGradNorm))) {
    throw new InputError(`pretrain: maxGradNorm must be a finite number > 0 or null, got ${o.maxGradNorm}`);
  }
  if (!Array.isArray(o.betas) || o.betas.length !== 2 || o.betas.some((b) => !(b >= 0 && b < 1))) {
    throw new InputError(`pretrain: betas must be two numbers in [0, 1), got ${JSON.stringify(o.betas)}`);
  }
}

/** The GPT-2 config of a pretrained model: the tokenizer's vocabulary, its eos as bos and eos. */
function pretrainConfig(shape: PretrainModelShape, tokenizer: Tokenizer): TransformerConfig {
  return makeConfig({
    modelType: 'gpt2',
    vocabSize: tokenizer.vocabSize,
    nPositions: shape.context,
    dModel: shape.dModel,
    nHeads: shape.nHeads,
    nLayers: shape.nLayers,
    bosTokenId: tokenizer.eosTokenId,
    eosTokenId: tokenizer.eosTokenId,
  });
}

const isValueHead = (name: string) => name === VHEAD_WEIGHT || name === VHEAD_BIAS;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Trains a GPT-2 from scratch and saves it; see the module documentation. */
export async function pretrain(opts: PretrainOptions): Promise<PretrainResult> {
  validatePretrainOptions(opts);
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { tokenizer, corpus } = opts;
  const eot = tokenizer.eosTokenId;
  const encode = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });
  const trainStream = packLines(corpus.train, encode, eot);
  const evalStream = packLines(corpus.heldOut, encode, eot);
  const trainWindows = new TokenWindows(trainStream, opts.seqLen, opts.seed);
  const evalWindows = new TokenWindows(evalStream, opts.seqLen, opts.seed);
  if (trainWindows.count === 0) {
    throw new InputError(
      `pretrain: the training lines hold ${trainStream.length} tokens, fewer than one window of seqLen + 1 = ${opts.seqLen + 1}`,
    );
  }
  log(
    `pretrain: ${corpus.train.length} training lines → ${trainStream.length} tokens (${trainWindows.count} windows of ${opts.seqLen}); ` +
      `${corpus.heldOut.length} held-out lines → ${evalStream.length} tokens (${evalWindows.count} windows)`,
  );

  const config = pretrainConfig(opts.model, tokenizer);
  const model = randomModel(config, opts.seed);
  const named = [...model.namedWeights()].filter(([name]) => !isValueHead(name));
  const schedule = { kind: 'cosine' as const, warmupSteps: opts.warmupSteps, totalSteps: opts.steps };
  const optimiser = new DecayGroupsAdamW(
    named.map(([, v]) => v),
    {
      learningRate: opts.learningRate,
      betas: opts.betas,
      weightDecay: opts.weightDecay,
      schedule,
    },
  );
  const vars = optimiser.ordered;
  const parameters = vars.reduce((n, v) => n + v.size, 0);
  const modelBytes = parameters * 4; // tied embeddings: model.safetensors holds exactly these weights
  log(
    `pretrain: GPT-2 ${config.nLayers} layers, d ${config.dModel}, ${config.nHeads} heads, context ${config.nPositions}, ` +
      `vocab ${config.vocabSize}: ${parameters} parameters (${(modelBytes / 2 ** 20).toFixed(2)} MiB float32), ` +
      `${opts.steps} steps × ${opts.batchSize} × ${opts.seqLen} tokens ≈ ${((opts.steps * opts.batchSize * opts.seqLen) / trainWindows.tokensPerEpoch).toFixed(2)} epochs`,
  );

  const tb = opts.logDir ? new TensorBoardWriter(opts.logDir) : undefined;
  const progress = new Progress('pretrain', opts.steps, process.stderr, { enabled: opts.progress ?? false });
  const sampleRng = new Rng(opts.seed).fork('pretrain/samples');
  const losses: number[] = [];
  let tokens = 0;
  let trainMs = 0;
  let step = 0;
  let status: PretrainResult['status'] = 'completed';
  let lastEval: EvalLoss = { loss: NaN, perplexity: NaN, tokens: 0 };
  let samples: string[] = [];

  const runEval = async () => {
    if (evalWindows.count > 0) {
      lastEval = await evaluateLoss(model, evalWindows, opts.batchSize, opts.evalWindows);
      tb?.scalar('eval/loss', lastEval.loss, step);
      tb?.scalar('eval/perplexity', lastEval.perplexity, step);
    }
    samples =
      opts.samples > 0 ? await sample(model, tokenizer, opts.samples, Math.min(opts.sampleTokens, config.nPositions - 1), sampleRng) : [];
    samples.forEach((s, i) => tb?.text(`samples/${i}`, s, step));
    progress.end();
    log(
      `pretrain step ${step}: held-out loss ${lastEval.loss.toFixed(4)}, perplexity ${lastEval.perplexity.toFixed(2)}` +
        samples.map((s) => `\n  sample: ${JSON.stringify(s)}`).join(''),
    );
  };
  const save = async (why: string) => {
    const ts = performance.now();
    await savePretrained(model, opts.outDir, {
      tokenizerJson: tokenizer.toJSON(),
      tokenizerConfig: {
        tokenizer_class: 'GPT2TokenizerFast',
        bos_token: tokenizer.bosToken,
        eos_token: tokenizer.eosToken,
        unk_token: tokenizer.eosToken,
        model_max_length: config.nPositions,
        add_prefix_space: false,
        clean_up_tokenization_spaces: false,
      },
      info: {
        status: why,
        steps: step,
        tokens,
        recentLoss: mean(losses.slice(-20)),
        eval: lastEval,
        tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
        parameters,
        hyperparameters: hyperparameters(opts),
        model: opts.model,
        vocabSize: config.vocabSize,
        corpus: {
          trainLines: corpus.train.length,
          heldOutLines: corpus.heldOut.length,
          trainTokens: trainStream.length,
          heldOutTokens: evalStream.length,
        },
        samples,
        ...(opts.info ?? {}),
      },
    });
    log(`pretrain: saved ${opts.outDir} (${why}, step ${step}) in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
  };

  let finished = false;
  try {
    for (step = 0; step < opts.steps;) {
      if (opts.signal?.aborted) {
        status = 'interrupted';
        break;
      }
      const lr = optimiser.learningRate();
      const ts = performance.now();
      const { inputs, targets } = trainWindows.nextBatch(opts.batchSize);
      const x = tf.tensor2d(inputs, [opts.batchSize, opts.seqLen], 'int32'); // [B, T]
      const y = tf.tensor2d(targets, [opts.batchSize, opts.seqLen], 'int32'); // [B, T]
      const { value, grads } = tf.variableGrads(() => causalLmLoss(model, x, y), vars); // value [], grads[name] shaped as the variable
      tf.dispose([x, y]);
      const gradNorm = optimiser.step(
        vars.map((v) => grads[v.name]!),
        opts.maxGradNorm,
      );
      const loss = (await value.data())[0]!;
      value.dispose();
      const dt = performance.now() - ts;
      step += 1;
      if (!Number.isFinite(loss)) {
        throw new Error(
          `pretrain: the loss became ${loss} at step ${step} (learning rate ${lr}); lower learningRate or keep maxGradNorm set`,
        );
      }
      trainMs += dt;
      tokens += opts.batchSize * opts.seqLen;
      losses.push(loss);
      const tps = (opts.batchSize * opts.seqLen) / (dt / 1000);
      tb?.scalar('train/loss', loss, step);
      tb?.scalar('train/perplexity', Math.exp(loss), step);
      tb?.scalar('train/lr', lr, step);
      tb?.scalar('train/tokens_per_s', tps, step);
      tb?.scalar('train/epoch', tokens / trainWindows.tokensPerEpoch, step);
      if (Number.isFinite(gradNorm)) tb?.scalar('train/grad_norm', gradNorm, step);
      progress.update(step, { loss, ppl: Math.exp(loss), lr, 'tok/s': Math.round(tps) });
      opts.onStep?.(step, loss);
      if (opts.evalEvery > 0 && step % opts.evalEvery === 0 && step < opts.steps) await runEval();
      if (opts.saveEvery > 0 && step % opts.saveEvery === 0 && step < opts.steps) await save('checkpoint');
      await yieldToEventLoop(); // lets signal handlers run between steps
    }
    progress.end();
    if (status === 'interrupted') log(`pretrain: interrupted after step ${step}; saving`);
    if (step > 0) await runEval();
    await save(status);
    finished = true;
  } finally {
    tb?.close();
    optimiser.dispose();
    if (!finished || !opts.keepModel) model.dispose();
  }
  return {
    status,
    steps: step,
    tokens,
    firstLoss: losses[0] ?? NaN,
    lastLoss: losses[losses.length - 1] ?? NaN,
    recentLoss: mean(losses.slice(-20)),
    losses,
    eval: lastEval,
    tokensPerSecond: trainMs > 0 ? tokens / (trainMs / 1000) : 0,
    seconds: (performance.now() - t0) / 1000,
    parameters,
    modelBytes,
    samples,
    config,
    outDir: opts.outDir,
    ...(opts.keepModel ? { model } : {}),
  };
}

/**
 * CausalLM.random inside an engine scope: the tensors its variables were created from are released when the scope
 * ends (tf.variable keeps its own reference to the data; variables are never disposed by a scope).
 */
function randomModel(config: TransformerConfig, seed: number): CausalLM {
  tf.engine().startScope();
  try {
    return CausalLM.random(config, { seed });
  } finally {
    tf.engine().endScope();
  }
}

function hyperparameters(o: PretrainHyperparameters): PretrainHyperparameters {
  return {
    steps: o.steps,
    batchSize: o.batchSize,
    seqLen: o.seqLen,
    learningRate: o.learningRate,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    betas: o.betas,
    maxGradNorm: o.maxGradNorm,
    seed: o.seed,
    evalEvery: o.evalEvery,
    evalWindows: o.evalWindows,
    samples: o.samples,
    sampleTokens: o.sampleTokens,
    saveEvery: o.saveEvery,
  };
}

/** `n` samples started from `<|endoftext|>`, top-k 40 at temperature 0.8, cut at the first end of text. */
async function sample(model: CausalLM, tokenizer: Tokenizer, n: number, maxNewTokens: number, rng: Rng): Promise<string[]> {
  const eot = tokenizer.eosTokenId;
  const prompts = Array.from({ length: n }, () => [eot]);
  const { responses } = await generate(
    model,
    { prompts, padTokenId: eot, eosTokenId: eot },
    {
      maxNewTokens,
      minNewTokens: Math.min(maxNewTokens, 2),
      temperature: 0.8,
      topK: 40,
      rng,
    },
  );
  return responses.map((r) => tokenizer.decode(r.filter((id) => id !== eot)));
}
