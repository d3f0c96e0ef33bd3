import { z } from 'zod';

/**
 * The experiment config. Plugin slots (`policy`, `reward.model`, `reward.transform`,
 * `data.dataset`, `optimiser`, `memory[]`, `hooks[]`) are `{ "type": "<plugin name>", ...options }`;
 * their options are validated by the plugin's own schema (see validate.ts). Everything else is here,
 * with defaults and help text (shown by `detox-lab config --help` and the README's reference).
 */

/** A plugin slot before the plugin's own validation: a type and its options. */
const slot = (what: string) =>
  z
    .looseObject({ type: z.string().describe(`which ${what} plugin (see \`detox-lab plugins\`)`) })
    .describe(`${what}: { "type": "<plugin>", ...options }`);

/** `[min, max)` like TRL's LengthSampler: the upper bound is excluded. */
const lengthRange = (what: string, dflt: [number, number]) =>
  z
    .tuple([z.number().int().min(1), z.number().int().min(2)])
    .refine(([a, b]) => b > a, { message: "must be [min, max) with max > min (max is excluded, as in TRL's LengthSampler)" })
    .default(dflt)
    .describe(`${what}: [min, max) tokens, sampled uniformly; max excluded (TRL's LengthSampler)`);

/** TRL v0.11.4 PPOConfig fields, camelCased, with TRL's defaults. */
export const ppoSchema = z
  .strictObject({
    batchSize: z.number().int().min(1).default(128).describe('samples per PPO step (TRL batch_size)'),
    miniBatchSize: z.number().int().min(1).default(128).describe('samples per forward/backward pass (TRL mini_batch_size)'),
    gradientAccumulationSteps: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('mini-batches accumulated per optimiser step (TRL gradient_accumulation_steps)'),
    ppoEpochs: z.number().int().min(1).default(4).describe('optimisation epochs over each batch (TRL ppo_epochs)'),
    adapKlCtrl: z.boolean().default(true).describe('adaptive KL controller (TRL adap_kl_ctrl); false = fixed β = initKlCoef'),
    initKlCoef: z.number().min(0).default(0.2).describe('initial KL penalty coefficient β (TRL init_kl_coef)'),
    klPenalty: z
      .enum(['kl', 'abs', 'mse', 'full'])
      .default('kl')
      .describe('per-token KL estimate: kl = logp−logp_ref, abs, mse = ½(Δ)², full = KL of the whole distributions'),
    target: z.number().positive().default(6).describe('target KL of the adaptive controller (TRL target)'),
    horizon: z.number().positive().default(10000).describe('adaptive controller horizon, in samples (TRL horizon)'),
    gamma: z.number().min(0).max(1).default(1).describe('discount (TRL gamma)'),
    lam: z.number().min(0).max(1).default(0.95).describe('GAE λ (TRL lam)'),
    cliprange: z.number().positive().default(0.2).describe('policy ratio clip range (TRL cliprange)'),
    cliprangeValue: z.number().positive().default(0.2).describe('value clip range (TRL cliprange_value)'),
    vfCoef: z.number().min(0).default(0.1).describe('value loss coefficient (TRL vf_coef)'),
    maxGradNorm: z.number().positive().nullable().default(null).describe('clip the global gradient norm; null = off (TRL max_grad_norm)'),
    earlyStopping: z.boolean().default(false).describe('stop the epochs when policy KL > 1.5 × targetKl (TRL early_stopping)'),
    targetKl: z.number().positive().default(1).describe('KL for early stopping (TRL target_kl)'),
    ratioThreshold: z
      .number()
      .positive()
      .default(10)
      .describe('skip a mini-batch (zero its loss) when its mean ratio exceeds this (TRL ratio_threshold)'),
    useScoreScaling: z.boolean().default(false).describe('divide scores by their running std (TRL use_score_scaling)'),
    useScoreNorm: z.boolean().default(false).describe('with scaling, also subtract the running mean (TRL use_score_norm)'),
    scoreClip: z.number().positive().nullable().default(null).describe('clip scores to ±scoreClip; null = off (TRL score_clip)'),
    whitenRewards: z.boolean().default(false).describe('whiten per-token rewards before GAE (TRL whiten_rewards)'),
  })
  .describe('PPO settings, TRL PPOConfig names in camelCase with TRL v0.11.4 defaults');

const generationSchema = z
  .strictObject({
    responseTokens: lengthRange('new tokens per generation batch (TRL detox: LengthSampler(20, 30))', [20, 30]),
    minNewTokens: z.number().int().min(0).default(0).describe('EOS suppressed before this many new tokens'),
    temperature: z.number().positive().default(1).describe('sampling temperature'),
    topK: z.number().int().min(0).default(0).describe('top-k sampling; 0 = off (the study trains with pure sampling)'),
    topP: z.number().gt(0).max(1).default(1).describe('nucleus sampling; 1 = off'),
  })
  .describe('sampling of responses during training');

const dataSchema = z
  .strictObject({
    dataset: slot('dataset'),
    promptTokens: lengthRange(
      "prompt length: each prompt is cut to a sampled number of tokens (the study's ablation: [5,8], [10,15], [15,20]; its script: [30,40])",
      [10, 15],
    ).nullable(),
  })
  .describe('training and held-out prompts');

const rewardSchema = z
  .strictObject({
    model: slot('reward-model'),
    transform: slot('reward-transform'),
    zeroVarianceSteps: z
      .number()
      .int()
      .min(1)
      .nullable()
      .optional()
      .describe(
        'the run fails (exit 1, its steps checkpointed) when its first N steps all have rewards equal across the batch (zero variance: PPO learns from the KL penalty alone, e.g. a classifier whose score is on another logit than the transform reads); the first such step warns; once the reward has varied, equal batches (a policy that satisfies a coarse reward) only warn; absent = 10, null = never fail',
      ),
  })
  .describe('the reward: a classifier scores the response text, a transform turns its logits into one number');

const trainSchema = z
  .strictObject({
    steps: z.number().int().min(1).default(100).describe('PPO steps (batches) to run'),
    logEvery: z.number().int().min(1).default(1).describe('write TensorBoard scalars every N steps'),
    sampleEvery: z.number().int().min(1).default(10).describe('log sample generations as TensorBoard text every N steps'),
    checkpointEvery: z.number().int().min(0).default(50).describe('checkpoint every N steps (0 = only at the end)'),
    keepCheckpoints: z
      .number()
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe('keep only the newest N step checkpoints (older ones are removed after each save); null = keep all'),
    progress: z.boolean().default(true).describe('console progress bar'),
  })
  .describe('the training loop');

export const evalSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('measure toxicity, diversity and fluency before and after training'),
    maxPrompts: z.number().int().min(1).nullable().default(null).describe('held-out prompts to use; null = all'),
    maxNewTokens: z.number().int().min(1).default(30).describe('new tokens per continuation (study: 30)'),
    topK: z.number().int().min(0).default(50).describe('top-k sampling (study: Hugging Face default 50)'),
    topP: z.number().gt(0).max(1).default(1).describe('nucleus sampling; 1 = off'),
    temperature: z.number().positive().default(1),
    samplesPerPrompt: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe("continuations per prompt (1 = the study's protocol; 25 = RealToxicityPrompts')"),
    batchSize: z.number().int().min(1).default(16).describe('prompts per generation batch'),
    seed: z.number().int().default(42).describe('sampling seed (study: torch.manual_seed(42))'),
    // Periodic evaluation uses the same prompts as before/after (eval.maxPrompts, else all held-out prompts) and the same
    // seed: each point of the eval curve is then the same measurement as the before and after figures (the curve ends
    // exactly at the summary's numbers, and points differ only by the policy), as TRL's and OpenRLHF's eval_steps
    // evaluate the whole eval set. A subset would be cheaper but noisier and not comparable with before/after; the cost
    // is set by eval.every and eval.maxPrompts.
    every: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "also evaluate every N steps during training (0 = off): the same prompts and seed as before/after (eval.maxPrompts), at steps N, 2N, ... before the last (which the after-evaluation measures); figures go to TensorBoard at their step and to hooks' onEval; training is unchanged (evaluation samples from its own seeded stream)",
      ),
    classifiers: z
      .array(slot('reward-model'))
      .default([])
      .describe(
        'cross-check classifiers: they score the same continuations as reward.model, and their toxicity (mean ± std) is reported beside it, e.g. [{"type": "lexicon-toxicity"}]',
      ),
  })
  .describe('evaluation on held-out prompts');

export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('JSON Schema for editors'),
  experiment: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .default('default')
    .describe('name; runs go to <runsDir>/<experiment>/<arm>'),
  seed: z.number().int().default(0).describe('seeds data order, sampling and initialisation'),
  backend: z
    .enum(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'])
    .default('wasm')
    .describe(
      'TensorFlow.js backend: wasm (default, npm only), cpu (pure JS reference), tensorflow / tensorflow-gpu (optional @tensorflow/tfjs-node[-gpu])',
    ),
  matmul: z
    .enum(['auto', 'native', 'js'])
    .default('auto')
    .describe(
      "wasm backend's matrix products: auto (default) = native when its addon was built at install (needs libopenblas-dev), else js; native = the system OpenBLAS sgemm on the wasm heap (an error when the addon is missing: apt-get install libopenblas-dev && npm rebuild); js = the wasm SIMD GEMM. DETOX_MATMUL overrides auto",
    ),
  runsDir: z
    .string()
    .default('runs')
    .describe(
      "where run folders are written; relative to the project root (the nearest folder at or above the config file that holds package.json or .detoxrc.json), as are all paths in the config except $import: the project root of the file that sets the value, and a path written ./ or ../ starts from that file's own folder (--set values: the project root)",
    ),
  plugins: z
    .array(z.string())
    .default([])
    .describe(
      'your plugin modules: paths relative to the project root, or package names; ./x.mjs and ../x.mjs start from the folder of the file that lists them',
    ),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1).max(64)])
    .default('auto')
    .describe(
      'data-parallel worker threads for sampling and the PPO forward/backward: auto = the machine cores, shared with the grid arms running beside it (1 on the tensorflow backends), 1 = the main thread only; results depend on the count (sampling streams and float summation order differ)',
    ),
  policy: slot('policy'),
  reward: rewardSchema,
  data: dataSchema,
  optimiser: slot('optimiser'),
  memory: z.array(slot('memory')).default([]).describe('memory strategies, combinable: shared-layers, bf16, checkpointing'),
  hooks: z
    .array(slot('hook'))
    .default([])
    .describe(
      'hooks around the run (hook plugins, run in list order): the built-in output hooks tensorboard, samples and console are on by default — the resolved config lists those you did not as { "type": ... } ahead of yours, so listing only your own hooks (a length penalty) keeps them; list one to set its options (e.g. { "type": "tensorboard", "logEvery": 10 }), or turn it off with { "type": "console", "enabled": false }',
    ),
  generation: generationSchema.default(generationSchema.parse({})),
  ppo: ppoSchema.default(ppoSchema.parse({})),
  train: trainSchema.default(trainSchema.parse({})),
  eval: evalSchema.default(evalSchema.parse({})),
  ablate: z
    .record(z.string(), z.array(z.json()).min(1))
    .optional()
    .describe(
      'ablation grid: config path → values to try, e.g. {"reward.transform.type": ["raw-logit", "softmax"], "seed": [0, 1, 2]}; each arm runs in <runsDir>/<experiment>/<arm>, named <key>-<value> joined by _ (transform-softmax_seed-0)',
    ),
  ablateMode: z
    .enum(['product', 'zip'])
    .optional()
    .describe('how the ablate lists combine: product (default, every combination) or zip (i-th values together; equal lengths)'),
});

export type ExperimentConfig = z.output<typeof configSchema>;
export type PpoConfig = z.output<typeof ppoSchema>;
export type EvalConfig = z.output<typeof evalSchema>;
export type SlotConfig = { type: string } & Record<string, unknown>;
