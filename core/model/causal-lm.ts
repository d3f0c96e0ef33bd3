/**
 * A GPT-2 / GPT-Neo / GPT-J / OPT / BLOOM causal language model with TRL's scalar value head, holding its weights as named
 * tf.Variables (Hugging Face names; engine layout, see weight-names.ts).
 *
 * The forward is split so later work can change how it runs without touching the math:
 * `hiddenStates` (embeddings → blocks → final norm; each block through {@link CausalLM.blockWeights}, a hook for
 * weights expanded on use, and `blockForward`, a pure function that tf.customGrad can wrap), then `lmHead` and
 * `valueHead` on any slice of the hidden states (so log-probs can be computed in chunks without the full
 * [B*T, V] logits).
 */
import * as tf from '@tensorflow/tfjs';
import type { TransformerConfig } from './arch/hf-config.js';
import type { KVCache } from './kv-cache.js';
import { SeededRandom } from './seeded-random.js';
import { attentionContext, blockForward, embed, layerNorm, linear, positionIdsFromMask } from './transformer.js';
import type { BlockWeights } from './block-types.js';
import {
  blockWeightNames,
  LM_HEAD,
  LM_HEAD_BIAS,
  modelWeightNames,
  sharedWeightNames,
  VHEAD_BIAS,
  VHEAD_WEIGHT,
  weightSpecs,
  type WeightSpec,
} from './arch/weight-names.js';
import { withWasmMemoryGuard } from './wasm/backend.js';
import { expandBf16, packTensorBf16, type PackedBf16 } from './memory/bf16.js';
import { checkpointedBlock } from './memory/checkpoint.js';
import type { HostWeight } from './io/hf-io.js';

/** How to initialise a value head that the checkpoint does not carry. */
export type VHeadInit = 'default' | 'normal';

/** A tensor handed to the model on the host: data in the engine's layout (defined in io/hf-io.ts, which reads them). */
export type { HostWeight } from './io/hf-io.js';

/** Options for building a model. */
export interface CausalLMOptions {
  /**
   * Value head initialisation when absent: 'default' = nn.Linear's (U(±1/sqrt(d)) weight and bias, TRL's
   * default), 'normal' = N(0, 0.2) weight and zero bias (TRL's v_head_init_strategy="normal").
   */
  vHeadInit?: VHeadInit;
  /** Seed for every random initialisation (default 0). */
  seed?: number;
}

/** Options of {@link CausalLM.forward}. */
interface ForwardOptions {
  /** Incremental decoding: keys/values of earlier positions; extended in place. */
  cache?: KVCache;
  /** Run the reference model made by {@link CausalLM.createReference} instead of this one. */
  which?: 'policy' | 'reference';
  /** Explicit position ids [B, T] int32 (default: from the attention mask). */
  positionIds?: tf.Tensor2D;
  /** Also return the final hidden states. */
  returnHidden?: boolean;
}

/** Result of {@link CausalLM.forward}. */
interface ForwardOutput {
  /** [B, T, V] */
  logits: tf.Tensor3D;
  /** [B, T] */
  values: tf.Tensor2D;
  /** [B, T, d] when asked for. */
  hidden?: tf.Tensor3D;
}

let modelCounter = 0;

/** Causal LM + value head. */
export class CausalLM {
  readonly config: TransformerConfig;
  /** Reference model made by {@link createReference}, if any. */
  reference?: CausalLM;
  private readonly vars: Map<string, tf.Variable>;
  /** Names whose variables this model created (and disposes); the rest are shared with another model. */
  private readonly owned: Set<string>;
  private readonly id: string;
  /** Frozen weights held as packed bfloat16 on the host (expanded on use) instead of variables. */
  private readonly packed = new Map<string, PackedBf16>();
  private checkpoint = false;
  private disposed = false;

  private constructor(config: TransformerConfig, vars: Map<string, tf.Variable>, owned: Set<string>, id: string) {
    this.config = config;
    this.vars = vars;
    this.owned = owned;
    this.id = id;
  }

  /**
   * Builds a model from host tensors in the engine's layout keyed by Hugging Face names (hf-io maps checkpoints
   * to this). Value head weights are initialised when absent; any other missing weight is an error listing them.
   */
  static fromHostWeights(config: TransformerConfig, weights: Map<string, HostWeight>, opts: CausalLMOptions = {}): CausalLM {
    const specs = weightSpecs(config);
    const missing = specs.filter((s) => !weights.has(s.name) && s.kind !== 'vhead_weight' && s.kind !== 'vhead_bias').map((s) => s.name);
    if (missing.length) throw new Error(`CausalLM: missing weights: ${missing.join(', ')}`);
    const rng = new SeededRandom(opts.seed ?? 0);
    const init = initialValueHead(config.dEmbed, opts.vHeadInit ?? 'default', rng);
    const id = `causal_lm_${modelCounter++}`;
    const vars = new Map<string, tf.Variable>();
    try {
      withWasmMemoryGuard(`creating the model's ${specs.length} weight tensors`, () => {
        for (const s of specs) {
          const w = weights.get(s.name) ?? init.get(s.name)!;
          checkShape(s, w.shape);
          const t = tf.tensor(w.data, s.shape, 'float32');
          vars.set(s.name, tf.variable(t, true, `${id}/${s.name}`));
          t.dispose();
        }
      });
    } catch (e) {
      for (const v of vars.values()) v.dispose();
      throw e;
    }
    return new CausalLM(config, vars, new Set(vars.keys()), id);
  }

  /**
   * A randomly initialised model (GPT-2's init: N(0, std) matrices and embeddings, zero biases, unit norms).
   * @param opts.std standard deviation of matrices and embeddings (default 0.02)
   */
  static random(config: TransformerConfig, opts: CausalLMOptions & { std?: number } = {}): CausalLM {
    const rng = new SeededRandom(opts.seed ?? 0);
    const std = opts.std ?? 0.02;
    const weights = new Map<string, HostWeight>();
    for (const s of weightSpecs(config)) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (s.kind === 'embedding' || s.kind === 'matrix') data = rng.normalArray(n, std);
      else if (s.kind === 'ln_weight') data = new Float32Array(n).fill(1);
      else if (s.kind === 'bias' || s.kind === 'ln_bias') data = new Float32Array(n);
      else continue; // value head: initialised below with the requested strategy
      weights.set(s.name, { shape: s.shape, data });
    }
    return CausalLM.fromHostWeights(config, weights, { ...opts, seed: (opts.seed ?? 0) + 1 });
  }

  /** Every weight by Hugging Face name, in the engine's layout (GPT-Neo Linear weights are [in, out]). */
  namedWeights(): ReadonlyMap<string, tf.Variable> {
    this.assertAlive();
    return this.vars;
  }

  /** The variables an optimiser should update (those with `trainable` set). */
  trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return [...this.vars.values()].filter((v) => v.trainable);
  }

  /** Sets `trainable` of every variable to `predicate(name)`. */
  setTrainable(predicate: (name: string) => boolean): void {
    this.assertAlive();
    for (const [name, v] of this.vars) v.trainable = predicate(name);
  }

  /**
   * Recompute each block's activations in the backward pass instead of keeping them (gradient checkpointing;
   * applies to this model's forwards under a gradient tape).
   */
  setCheckpointing(on: boolean): void {
    this.checkpoint = on;
  }

  /** Whether {@link setCheckpointing} is on. */
  get checkpointing(): boolean {
    return this.checkpoint;
  }

  /** Names of weights held as packed bfloat16 (not in {@link namedWeights}). */
  packedWeightNames(): string[] {
    return [...this.packed.keys()];
  }

  /**
   * Bytes this model holds itself: float32 variables it created (`float32Bytes`, on the backend) and packed bfloat16
   * weights (`packedBytes`, on the host). Shared variables count in the model that created them.
   */
  memoryFootprint(): { float32Bytes: number; packedBytes: number } {
    let float32Bytes = 0;
    for (const name of this.owned) float32Bytes += this.vars.get(name)!.size * 4;
    let packedBytes = 0;
    for (const p of this.packed.values()) packedBytes += p.bits.byteLength;
    return { float32Bytes, packedBytes };
  }

  /** Weights of block `i` as the forward consumes them (separate q/k/v, and their biases, fused into one [d, 3d] matrix). */
  blockWeights(i: number): BlockWeights {
    const n = blockWeightNames(this.config, i);
    const g = (name: string) => this.w(name);
    const qkvW = n.qkvW ? g(n.qkvW) : tf.concat([g(n.qW!), g(n.kW!), g(n.vW!)], 1); // [d, 3d]
    const qkvB = n.qkvB ? g(n.qkvB) : n.qB ? tf.concat([g(n.qB), g(n.kB!), g(n.vB!)]) : undefined; // [3d]
    return {
      ln1G: g(n.ln1G) as tf.Tensor1D,
      ln1B: g(n.ln1B) as tf.Tensor1D,
      qkvW: qkvW as tf.Tensor2D,
      qkvB: qkvB as tf.Tensor1D | undefined,
      outW: g(n.outW) as tf.Tensor2D,
      outB: n.outB ? (g(n.outB) as tf.Tensor1D) : undefined,
      ln2G: n.ln2G ? (g(n.ln2G) as tf.Tensor1D) : undefined,
      ln2B: n.ln2B ? (g(n.ln2B) as tf.Tensor1D) : undefined,
      fcW: g(n.fcW) as tf.Tensor2D,
      fcB: n.fcB ? (g(n.fcB) as tf.Tensor1D) : undefined,
      projW: g(n.projW) as tf.Tensor2D,
      projB: n.projB ? (g(n.projB) as tf.Tensor1D) : undefined,
    };
  }

  /**
   * Final hidden states (after the last LayerNorm, and OPT's project_out: width dEmbed).
   * @param inputIds [B, T] int32 new tokens
   * @param attentionMask [B, Tpast + T] int32 (1 token, 0 padding) over cached and new positions
   * @returns [B, T, dEmbed]
   */
  hiddenStates(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    if (opts.which === 'reference') return this.referenceModel().hiddenStates(inputIds, attentionMask, { ...opts, which: 'policy' });
    this.assertAlive();
    const cfg = this.config;
    const cache = opts.cache;
    const past = cache ? cache.length : 0;
    if (inputIds.rank !== 2 || attentionMask.rank !== 2) {
      throw new Error(
        `forward: inputIds and attentionMask must be rank 2 ([B, T]), got ${JSON.stringify(inputIds.shape)} and ${JSON.stringify(attentionMask.shape)}`,
      );
    }
    const [b, t] = inputIds.shape;
    if (inputIds.dtype !== 'int32' || attentionMask.dtype !== 'int32') {
      throw new Error(`forward: inputIds and attentionMask must be int32, got ${inputIds.dtype} and ${attentionMask.dtype}`);
    }
    if (attentionMask.shape[0] !== b || attentionMask.shape[1] !== past + t) {
      throw new Error(
        `forward: attentionMask must be [${b}, ${past + t}] (cached ${past} + new ${t} positions), got ${JSON.stringify(attentionMask.shape)}`,
      );
    }
    if (cache && cache.layers.length !== cfg.nLayers)
      throw new Error(`forward: cache has ${cache.layers.length} layers, model has ${cfg.nLayers}`);
    if (cache && isTapeRecording()) {
      throw new Error(
        'forward: a KV cache is for inference; gradients through cached keys/values are not supported (call forward without cache inside tf.grads / optimizer.minimize)',
      );
    }
    if (past + t > cfg.nPositions) {
      throw new Error(
        `forward: ${past + t} positions exceed the model's n_positions ${cfg.nPositions}; shorten the prompt or max new tokens`,
      );
    }
    const hidden = withWasmMemoryGuard(`forward of ${b}x${t} tokens`, () =>
      tf.tidy(() => {
        const positions = opts.positionIds ?? positionIdsFromMask(attentionMask, t); // [B, T]
        const names = modelWeightNames(cfg);
        let x = tf.tidy(() => {
          const tok = embed(this.w(names.wte) as tf.Tensor2D, inputIds); // [B*T, dEmbed]
          let e = names.projIn ? linear(tok, this.w(names.projIn) as tf.Tensor2D) : tok; // [B*T, d]
          if (names.embLnG) e = layerNorm(e, this.w(names.embLnG) as tf.Tensor1D, this.w(names.embLnB!) as tf.Tensor1D, cfg.layerNormEps); // [B*T, d]
          if (!names.wpe) return e;
          const rows = cfg.positionOffset ? (tf.add(positions, tf.scalar(cfg.positionOffset, 'int32')) as tf.Tensor2D) : positions; // [B, T]
          return tf.add(e, tf.gather(this.w(names.wpe), tf.reshape(rows, [b * t]))) as tf.Tensor2D; // [B*T, d]
        });
        const ctx = attentionContext(cfg, attentionMask, t, positions);
        const recording = isTapeRecording();
        for (let i = 0; i < cfg.nLayers; i++) {
          const xi = x;
          if (this.checkpoint && recording && !cache) {
            x = checkpointedBlock((bw, bx, bc) => blockForward(cfg, i, bw, bx, bc), this.blockWeights(i), xi, ctx); // [B*T, d]
          } else if (!cache && !recording && this.packed.size > 0) {
            // Packed weights are expanded for this block only and freed with its intermediates.
            x = tf.tidy(() => blockForward(cfg, i, this.blockWeights(i), xi, ctx)); // [B*T, d]
            xi.dispose();
          } else {
            x = blockForward(cfg, i, this.blockWeights(i), xi, ctx, cache); // [B*T, d]
          }
        }
        const normed = names.lnfG
          ? layerNorm(x, this.w(names.lnfG) as tf.Tensor1D, this.w(names.lnfB!) as tf.Tensor1D, cfg.layerNormEps)
          : x; // [B*T, d]
        const h = names.projOut ? linear(normed, this.w(names.projOut) as tf.Tensor2D) : normed; // [B*T, dEmbed]
        return tf.reshape(h, [b, t, cfg.dEmbed]) as tf.Tensor3D; // [B, T, dEmbed]
      }),
    );
    if (cache) cache.length += t;
    return hidden;
  }

  /** The output embedding matrix [V, dEmbed] (the token embedding when tied; expanded when packed). */
  outputEmbedding(): tf.Tensor {
    return this.w(this.config.tiedEmbeddings ? modelWeightNames(this.config).wte : LM_HEAD);
  }

  /** The lm_head bias [V] (GPT-J), or null. */
  outputBias(): tf.Tensor1D | null {
    return this.config.lmHeadBias ? (this.w(LM_HEAD_BIAS) as tf.Tensor1D) : null;
  }

  /**
   * Logits for any hidden states.
   * @param hidden [..., d]
   * @returns [..., V]
   */
  lmHead(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const d = this.config.dEmbed;
      const lead = hidden.shape.slice(0, -1);
      const h2 = tf.reshape(hidden, [-1, d]) as tf.Tensor2D; // [N, d]
      const bias = this.outputBias(); // [V] or null
      const logits = bias
        ? tf.add(tf.matMul(h2, this.outputEmbedding(), false, true), bias)
        : tf.matMul(h2, this.outputEmbedding(), false, true); // [N, V]
      return tf.reshape(logits, [...lead, this.config.vocabSize]); // [..., V]
    });
  }

  /**
   * TRL's value head (Linear d → 1) on any hidden states.
   * @param hidden [..., d]
   * @returns [...]
   */
  valueHead(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const d = this.config.dEmbed;
      const lead = hidden.shape.slice(0, -1);
      const h2 = tf.reshape(hidden, [-1, d]) as tf.Tensor2D; // [N, d]
      const w = tf.reshape(this.w(VHEAD_WEIGHT), [d, 1]) as tf.Tensor2D; // [d, 1] (same memory order as [1, d])
      const v = tf.fused.matMul({ a: h2, b: w, bias: this.w(VHEAD_BIAS) }); // [N, 1]
      return tf.reshape(v, lead); // [...]
    });
  }

  /**
   * Full forward: logits and values for every new position.
   * @param inputIds [B, T] int32
   * @param attentionMask [B, Tpast + T] int32
   */
  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ForwardOptions = {}): ForwardOutput {
    if (opts.which === 'reference') return this.referenceModel().forward(inputIds, attentionMask, { ...opts, which: 'policy' });
    const hidden = this.hiddenStates(inputIds, attentionMask, opts); // [B, T, d]
    return withWasmMemoryGuard(`lm head of ${hidden.shape[0]}x${hidden.shape[1]} tokens`, () => {
      const logits = this.lmHead(hidden) as tf.Tensor3D; // [B, T, V]
      const values = this.valueHead(hidden) as tf.Tensor2D; // [B, T]
      if (opts.returnHidden) return { logits, values, hidden };
      hidden.dispose();
      return { logits, values };
    });
  }

  /**
   * Makes a frozen reference model, as TRL's create_reference_model:
   * - without `numSharedLayers`: a full frozen copy; this model stays fully trainable;
   * - with N: the embeddings and blocks 0..N-1 are the SAME variables in both models and are frozen in this
   *   model too; every other weight is a frozen copy.
   * The reference is remembered (`forward(..., { which: 'reference' })`) and disposed with this model.
   */
  createReference(opts: { numSharedLayers?: number; frozenStorage?: 'float32' | 'bfloat16' } = {}): CausalLM {
    this.assertAlive();
    const n = opts.numSharedLayers;
    if (n !== undefined && (!Number.isInteger(n) || n < 0 || n >= this.config.nLayers)) {
      throw new Error(
        `createReference: numSharedLayers must be an integer in [0, ${this.config.nLayers - 1}] for a ` +
          `${this.config.nLayers}-layer model (or omitted for a full copy), got ${n}`,
      );
    }
    if (this.reference) this.reference.dispose();
    const shared = n === undefined ? new Set<string>() : sharedWeightNames(this.config, n);
    const id = `${this.id}_ref${modelCounter++}`;
    const vars = new Map<string, tf.Variable>();
    const owned = new Set<string>();
    const packed = new Map<string, PackedBf16>();
    for (const [name, v] of this.vars) {
      if (shared.has(name)) {
        v.trainable = false;
        vars.set(name, v);
      } else if (opts.frozenStorage === 'bfloat16') {
        packed.set(name, packTensorBf16(v));
      } else {
        vars.set(name, tf.variable(v, false, `${id}/${name}`));
        owned.add(name);
      }
    }
    this.reference = new CausalLM(this.config, vars, owned, id);
    for (const [name, p] of packed) this.reference.packed.set(name, p);
    return this.reference;
  }

  /** Names of weights this model shares with another (its policy or its reference). */
  sharedWeightNames(): string[] {
    const names = [...this.vars.keys()].filter((k) => !this.owned.has(k));
    if (this.reference) names.push(...this.reference.sharedWeightNames());
    return [...new Set(names)];
  }

  /** Frees the variables this model created (and its reference's). */
  dispose(): void {
    if (this.disposed) return;
    this.reference?.dispose();
    this.reference = undefined;
    for (const name of this.owned) this.vars.get(name)!.dispose();
    this.packed.clear();
    this.disposed = true;
  }

  /** A weight as a tensor: the variable, or a packed weight expanded to float32 (new tensor in the current scope). */
  private w(name: string): tf.Tensor {
    const v = this.vars.get(name);
    if (v) return v;
    const p = this.packed.get(name);
    if (p) return expandBf16(p); // shape of the weight
    throw new Error(`CausalLM: no weight named ${name}`);
  }

  private referenceModel(): CausalLM {
    if (!this.reference) throw new Error("forward: which='reference' needs a reference model; call createReference() first");
    return this.reference;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('CausalLM: the model was disposed');
  }
}

/** True while tfjs records operations for gradients (inside tf.grads / variableGrads / minimize). */
function isTapeRecording(): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  return state.gradientDepth > 0;
}

function checkShape(s: WeightSpec, shape: number[]): void {
  if (shape.length !== s.shape.length || shape.some((d, i) => d !== s.shape[i])) {
    throw new Error(`CausalLM: weight ${s.name} has shape ${JSON.stringify(shape)}, expected ${JSON.stringify(s.shape)} (engine layout)`);
  }
}

/** Value head weights for an initialisation strategy. */
function initialValueHead(d: number, init: VHeadInit, rng: SeededRandom): Map<string, HostWeight> {
  if (init !== 'default' && init !== 'normal') {
    throw new Error(`vHeadInit must be 'default' or 'normal', got ${JSON.stringify(init)}`);
  }
  const bound = 1 / Math.sqrt(d);
  const weight = init === 'normal' ? rng.normalArray(d, 0.2) : rng.uniformArray(d, -bound, bound);
  const bias = init === 'normal' ? new Float32Array(1) : rng.uniformArray(1, -bound, bound);
  return new Map([
    [VHEAD_WEIGHT, { shape: [1, d], data: weight }],
    [VHEAD_BIAS, { shape: [1], data: bias }],
  ]);
}
