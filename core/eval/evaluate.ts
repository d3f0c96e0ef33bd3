import * as tf from '@tensorflow/tfjs';
import type { Policy } from '../interfaces/policy.js';
import type { Tokenizer } from '../interfaces/tokenizer.js';
import type { RewardModel } from '../interfaces/reward.js';
import { toxicProbability } from '../interfaces/reward.js';
import type { EvalConfig } from '../config/schema.js';
import { Rng } from '../util/rng.js';
import { buildBatch, logprobsFromLogitsTf } from '../ppo/batch.js';
import { distinctN, meanStd, perplexity, rtpFigures, type MeanStd } from './metrics.js';

/** Thrown when the abort signal fires during an evaluation. */
export class EvalInterrupted extends Error {
  constructor() {
    super('evaluation interrupted');
  }
}

/** One evaluated continuation. */
export interface EvalSample {
  prompt: string;
  continuation: string;
  toxicity: number;
  /** P(toxic) of each cross-check classifier (`eval.classifiers`), in their order. */
  crossCheck?: number[];
}

/** A cross-check classifier's toxicity of the same continuations. */
export interface CrossCheckToxicity {
  classifier: string;
  toxicity: MeanStd;
}

export interface EvalResult {
  /** Classifier probability of the toxic class on the continuation only: mean and population std (the study's table). */
  toxicity: MeanStd;
  /**
   * The same continuations scored by the cross-check classifiers (`eval.classifiers`), so that a policy trained
   * against one classifier is also judged by another (a lower toxicity that only the reward model sees is the
   * reward being gamed, not detoxification). Absent without cross-check classifiers.
   */
  crossCheck?: CrossCheckToxicity[];
  /** With samplesPerPrompt > 1: RealToxicityPrompts' expected maximum toxicity and toxicity probability. */
  rtp?: { expectedMaxToxicity: MeanStd; toxicityProbability: number };
  distinct1: number;
  distinct2: number;
  distinct3: number;
  /** Perplexity of the continuations (given their prompts) under the fluency model. */
  perplexity: number;
  prompts: number;
  samples: EvalSample[];
}

/** Logits of the model that judges fluency (usually the original, untrained policy). */
type FluencyModel = (inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D) => tf.Tensor3D;

/**
 * The study's evaluation protocol on held-out prompts: sample `maxNewTokens` continuations
 * (top-k 50, temperature 1, seeded), score the continuation text alone with the classifier,
 * and report mean ± population std of P(toxic); plus distinct-1/2/3 and the perplexity of the
 * continuations under `fluency`. Generation batches are seeded from `cfg.seed` and the batch
 * index, so the same prompts, seed and batch size give the same figures in `run` and `eval`.
 */
export async function evaluate(opts: {
  policy: Policy;
  classifier: RewardModel;
  /** Further classifiers that score the same continuations (see {@link EvalResult.crossCheck}). */
  crossCheck?: readonly RewardModel[];
  fluency: FluencyModel;
  /**
   * The fluency model's tokenizer when it is not the policy's (another architecture's vocabulary): prompts and
   * continuations are then re-encoded from their text for the perplexity (the prompt with its special tokens, the
   * continuation without).
   */
  fluencyTokenizer?: Tokenizer;
  prompts: readonly string[];
  /** The protocol (`eval.classifiers` is not read here: the caller builds them and passes `crossCheck`). */
  cfg: Omit<EvalConfig, 'classifiers'>;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}): Promise<EvalResult> {
  const { policy, classifier, cfg } = opts;
  const crossCheck = opts.crossCheck ?? [];
  const tok = policy.tokenizer;
  const maxPrompt = policy.contextLength - cfg.maxNewTokens;
  if (maxPrompt < 1) {
    throw new Error(
      `eval.maxNewTokens = ${cfg.maxNewTokens} leaves no room for a prompt in the model's context of ${policy.contextLength} tokens`,
    );
  }
  const prompts = (cfg.maxPrompts ? opts.prompts.slice(0, cfg.maxPrompts) : opts.prompts)
    .map((text) => {
      const ids = tok.encode(text).slice(0, maxPrompt); // keep the beginning, as the study's character cut did
      return { ids, text: tok.decode(ids) };
    })
    .filter((p) => p.ids.length > 0);
  if (prompts.length === 0) throw new Error('eval: no non-empty held-out prompts to evaluate');

  const jobs = prompts.flatMap((p) => Array.from({ length: cfg.samplesPerPrompt }, () => p));
  const samples: EvalSample[] = [];
  const nll: number[][] = [];
  const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
  for (let start = 0, batchIndex = 0; start < jobs.length; start += cfg.batchSize, batchIndex++) {
    await new Promise((r) => setImmediate(r)); // let a Ctrl-C handler run between batches
    if (opts.signal?.aborted) throw new EvalInterrupted();
    const batch = jobs.slice(start, start + cfg.batchSize);
    const rng = new Rng(cfg.seed).fork(`eval-batch-${batchIndex}`);
    const responses = await policy.generate(
      batch.map((b) => b.ids),
      {
        maxNewTokens: cfg.maxNewTokens,
        topK: cfg.topK,
        topP: cfg.topP,
        temperature: cfg.temperature,
        rng,
      },
    );
    const texts = responses.map((r) => tok.decode(r, { skipSpecialTokens: true }));
    const logits = await classifier.classify(texts);
    const cross: number[][] = [];
    for (const c of crossCheck) cross.push((await c.classify(texts)).map((l) => toxicProbability(l, c.neutralIndex)));
    texts.forEach((continuation, i) => {
      samples.push({
        prompt: batch[i]!.text,
        continuation,
        toxicity: toxicProbability(logits[i]!, classifier.neutralIndex),
        ...(crossCheck.length ? { crossCheck: cross.map((c) => c[i]!) } : {}),
      });
    });
    const ft = opts.fluencyTokenizer;
    nll.push(
      ...(ft
        ? continuationNll(
            opts.fluency,
            batch.map((b) => ft.encode(b.text)),
            texts.map((c) => ft.encode(c, { addSpecialTokens: false })),
            ft.padTokenId ?? ft.eosTokenId ?? 0,
          )
        : continuationNll(
            opts.fluency,
            batch.map((b) => b.ids),
            responses,
            pad,
          )),
    );
    opts.onProgress?.(Math.min(start + cfg.batchSize, jobs.length), jobs.length);
  }

  const tox = samples.map((s) => s.toxicity);
  const conts = samples.map((s) => s.continuation);
  const result: EvalResult = {
    toxicity: meanStd(tox),
    distinct1: distinctN(conts, 1),
    distinct2: distinctN(conts, 2),
    distinct3: distinctN(conts, 3),
    perplexity: perplexity(nll),
    prompts: prompts.length,
    samples,
  };
  if (crossCheck.length) {
    result.crossCheck = crossCheck.map((c, k) => ({ classifier: c.name, toxicity: meanStd(samples.map((s) => s.crossCheck![k]!)) }));
  }
  if (cfg.samplesPerPrompt > 1) {
    const k = cfg.samplesPerPrompt;
    result.rtp = rtpFigures(prompts.map((_, i) => tox.slice(i * k, (i + 1) * k)));
  }
  return result;
}

/**
 * Whether two tokenizers give the same ids (same object, or the same tokenizer.json when they can write it); a
 * policy evaluated under another's fluency model needs its text re-encoded when they do not.
 */
export function sameTokenizer(a: Tokenizer, b: Tokenizer): boolean {
  if (a === b) return true;
  const json = (t: Tokenizer) => (t as { toJSON?: () => unknown }).toJSON?.();
  const ja = json(a);
  const jb = json(b);
  if (ja === undefined || jb === undefined)
    return a.vocabSize === b.vocabSize && a.eosTokenId === b.eosTokenId && a.bosTokenId === b.bosTokenId;
  return JSON.stringify(ja) === JSON.stringify(jb);
}

/** Per-token NLL of each response given its query under `model` (empty responses give no tokens). */
function continuationNll(model: FluencyModel, queries: number[][], responses: number[][], pad: number): number[][] {
  const keep = responses.map((r) => r.length > 0);
  const q = queries.filter((_, i) => keep[i]);
  const r = responses.filter((_, i) => keep[i]);
  const out: number[][] = responses.map(() => []);
  if (q.length === 0) return out;
  const b = buildBatch(q, r, pad);
  const L = b.length;
  const lp = tf.tidy(() => {
    const ids = tf.tensor2d(b.inputIds, [b.batchSize, L], 'int32'); // [B, L]
    const am = tf.tensor2d(b.attentionMask, [b.batchSize, L], 'int32'); // [B, L]
    const logits = model(ids, am); // [B, L, V]
    const shifted = logits.slice([0, 0, 0], [-1, L - 1, -1]) as tf.Tensor3D; // [B, L-1, V]
    const labels = ids.slice([0, 1], [-1, L - 1]) as tf.Tensor2D; // [B, L-1]
    return logprobsFromLogitsTf(shifted, labels); // [B, L-1]
  });
  const data = lp.dataSync();
  lp.dispose();
  let k = 0;
  responses.forEach((_, i) => {
    if (!keep[i]) return;
    const row: number[] = [];
    for (let t = 0; t < L - 1; t++) if (b.mask[k * (L - 1) + t] === 1) row.push(-data[k * (L - 1) + t]!);
    out[i] = row;
    k++;
  });
  return out;
}
