import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Policy, GenerateOptions } from '../interfaces/policy.js';
import type { MemoryPlan } from '../interfaces/memory.js';
import { CausalLM, type VHeadInit } from './causal-lm.js';
import { generate } from './generate.js';
import { hfTensorsToEngine, readHfConfig, saveCausalLM, VALUE_HEAD_FILE } from './io/hf-io.js';
import { loadCausalLM } from './load.js';
import { readSafetensors, readSafetensorsFolder } from './io/safetensors.js';
import { roundVariablesToBf16 } from './memory/bf16.js';
import { leanTokenStats } from './memory/loss-head.js';
import { loadTokenizer, type Tokenizer } from './io/tokenizer.js';

/**
 * The policy the trainer sees: a GPT-2 / GPT-Neo / GPT-J / OPT / BLOOM causal LM with TRL's value head, its tokenizer,
 * and its frozen reference, laid out as the memory plan says (shared layers are one copy).
 */
export class CausalLMPolicy implements Policy {
  readonly name: string;

  private constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer,
    readonly source: string,
  ) {
    this.name = `${model.config.modelType}:${path.basename(source)}`;
  }

  /** Loads a Hugging Face folder (config.json, safetensors, tokenizer.json) and builds its reference. */
  static async load(dir: string, opts: { plan: MemoryPlan; vHeadInit?: VHeadInit; seed?: number }): Promise<CausalLMPolicy> {
    if (!fs.existsSync(dir)) throw new Error(`policy.path: no model folder at ${dir}`);
    if (
      !fs.existsSync(path.join(dir, 'tokenizer.json')) &&
      !fs.existsSync(path.join(dir, 'vocab.json')) &&
      !fs.existsSync(path.join(dir, 'encoder.json'))
    ) {
      throw new Error(`policy.path: ${dir} has no tokenizer.json; training needs text, so add the model's tokenizer.json to the folder`);
    }
    const [model, tokenizer] = await Promise.all([loadCausalLM(dir, { vHeadInit: opts.vHeadInit, seed: opts.seed }), loadTokenizer(dir)]);
    if (tokenizer.vocabSize > model.config.vocabSize) {
      model.dispose();
      throw new Error(`policy.path: tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary has ${model.config.vocabSize}`);
    }
    applyMemoryPlan(model, opts.plan);
    return new CausalLMPolicy(model, tokenizer, dir);
  }

  get contextLength(): number {
    return this.model.config.nPositions;
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, which: 'policy' | 'reference' = 'policy') {
    const { logits, values } = this.model.forward(inputIds, attentionMask, { which });
    return { logits, values };
  }

  /** The lean loss head (see {@link Policy.tokenStats}): chunked log-probs, entropies and values, each [B, L-1]. */
  tokenStats(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, which: 'policy' | 'reference' = 'policy') {
    return tf.tidy(() => {
      const [b, L] = inputIds.shape;
      const hidden = this.model.hiddenStates(inputIds, attentionMask, { which }); // [B, L, d]
      const h = tf.slice(hidden, [0, 0, 0], [b, L - 1, -1]) as tf.Tensor3D; // [B, L-1, d]
      const targets = tf.slice(inputIds, [0, 1], [b, L - 1]) as tf.Tensor2D; // [B, L-1]
      const head = which === 'reference' ? this.model.reference! : this.model;
      const { logprobs, entropy } = leanTokenStats(h, head.outputEmbedding(), targets, { bias: head.outputBias() }); // [B, L-1] each
      const values = this.model.valueHead(h) as tf.Tensor2D; // [B, L-1]
      return { logprobs, entropy, values };
    });
  }

  async generate(prompts: number[][], opts: GenerateOptions): Promise<number[][]> {
    const eos = this.tokenizer.eosTokenId;
    const { responses } = await generate(this.model, { prompts, padTokenId: this.tokenizer.padTokenId ?? eos, eosTokenId: eos }, opts);
    return responses;
  }

  trainableVariables(): tf.Variable[] {
    return this.model.trainableVariables();
  }

  async save(dir: string): Promise<void> {
    await saveCausalLM(this.model, dir, { tokenizerJson: this.tokenizer.toJSON() });
  }

  async restore(dir: string): Promise<void> {
    const cfg = await readHfConfig(dir);
    const mine = this.model.config;
    if (cfg.nLayers !== mine.nLayers || cfg.dModel !== mine.dModel || cfg.vocabSize !== mine.vocabSize) {
      throw new Error(
        `restore ${dir}: its model (${cfg.nLayers} layers, d ${cfg.dModel}, vocab ${cfg.vocabSize}) is not this policy's (${mine.nLayers}, ${mine.dModel}, ${mine.vocabSize})`,
      );
    }
    const tensors = await readSafetensorsFolder(dir);
    for (const [k, v] of await readSafetensors(path.join(dir, VALUE_HEAD_FILE))) tensors.set(k, v);
    const weights = hfTensorsToEngine(cfg, tensors, `restore ${dir}`);
    for (const [name, variable] of this.model.namedWeights()) {
      const w = weights.get(name);
      if (!w) throw new Error(`restore ${dir}: missing weight ${name}`);
      tf.tidy(() => variable.assign(tf.tensor(w.data, variable.shape, 'float32')));
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Lays a freshly built model out as the memory plan says: pure-bf16 rounding of its weights, its reference (shared
 * blocks, frozen copies packed as bfloat16 when asked) and block checkpointing.
 */
export function applyMemoryPlan(model: CausalLM, plan: MemoryPlan): void {
  if (
    plan.numSharedLayers !== null &&
    (!Number.isInteger(plan.numSharedLayers) || plan.numSharedLayers < 0 || plan.numSharedLayers >= model.config.nLayers)
  ) {
    throw new Error(
      `memory shared-layers: numSharedLayers must be an integer in [0, ${model.config.nLayers - 1}] for this ` +
        `${model.config.nLayers}-layer model, got ${plan.numSharedLayers}`,
    );
  }
  // Pure bf16: every weight starts as a bfloat16 value, so policy and reference agree at step 0.
  if (plan.roundTrainableToBf16) roundVariablesToBf16([...model.namedWeights().values()]);
  model.createReference({
    ...(plan.numSharedLayers === null ? {} : { numSharedLayers: plan.numSharedLayers }),
    frozenStorage: plan.frozenStorage,
  });
  model.setCheckpointing(plan.checkpointBlocks);
}
