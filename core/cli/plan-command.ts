/**
 * `detox-lab plan [experiment] [--budget 4GiB]`: the memory a config would need before running it — policy,
 * reference, value head, optimiser state, gradients and activations of one training mini-batch — for the configured
 * memory strategies and for each alternative, and which of them fit the budget and the wasm backend's 4 GiB heap.
 * Reads only the policy's config.json, so it works for recipes whose weights are not downloaded.
 */
import path from 'node:path';
import { builtinPlugins } from './builtins.js';
import { prepareExperiment } from '../config/prepare.js';
import type { SlotConfig } from '../config/schema.js';
import { defaultMemoryPlan, type MemoryPlan, type MemoryStrategy } from '../interfaces/memory.js';
import fs from 'node:fs';
import { readHfConfig } from '../model/io/hf-io.js';
import { parseHfConfig } from '../model/arch/hf-config.js';
import { knownConfig } from '../memory/known-configs.js';
import { estimateMemory, formatBytes, parseBytes, strategyPlans, WASM_HEAP_LIMIT, type MemoryEstimate } from '../memory/estimate.js';
import { UserError } from '../exit.js';

/** Tokens per row assumed when the config does not bound prompt length (`data.promptTokens: null`). */
const UNBOUNDED_PROMPT_TOKENS = 64;

/** Runs the plan command; returns the printed text. */
export async function planCommand(experiment: string | undefined, opts: { budget?: string; set?: string[] }): Promise<string> {
  let budget: number | undefined;
  try {
    budget = opts.budget === undefined ? undefined : parseBytes(opts.budget);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const prepared = await prepareExperiment({ file: experiment, set: opts.set ?? [], builtins: builtinPlugins });
  const cfg = prepared.config;
  const policy = cfg.policy as SlotConfig & { path?: string };
  if (typeof policy.path !== 'string')
    throw new UserError(`plan: policy "${policy.type}" has no "path" to a model folder with config.json`);
  const dir = path.resolve(prepared.raw.baseDir, policy.path);
  const known = knownConfig(path.basename(dir));
  let source = path.relative(process.cwd(), path.join(dir, 'config.json')) || dir;
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    if (!known) throw new UserError(`plan: ${source} does not exist; the plan needs the model's config.json (weights are not needed)`);
    source = `the published config of ${path.basename(dir)} (${source} is absent)`;
  }
  const model = fs.existsSync(path.join(dir, 'config.json')) ? await readHfConfig(dir) : parseHfConfig(known!);
  const plan = defaultMemoryPlan();
  const baseCtx = { configDir: prepared.raw.baseDir, seed: cfg.seed, backend: cfg.backend, trainSteps: cfg.train.steps, log: () => {} };
  for (const slot of cfg.memory as SlotConfig[]) {
    const def = prepared.registry.find('memory', slot.type)!;
    const { type: _type, ...options } = slot;
    const s = (await def.create(def.options.parse(options), { ...baseCtx, memoryPlan: plan })) as MemoryStrategy;
    s.apply(plan);
  }
  const prompt = cfg.data.promptTokens === null ? UNBOUNDED_PROMPT_TOKENS : cfg.data.promptTokens[1];
  const seqLen = Math.min(model.nPositions, prompt + cfg.generation.responseTokens[1]);
  const work = { miniBatchSize: cfg.ppo.miniBatchSize, seqLen };
  const limit = cfg.backend === 'wasm' ? WASM_HEAP_LIMIT : undefined;
  const fits = (e: MemoryEstimate) => (budget === undefined || e.totalBytes <= budget) && (limit === undefined || e.backendBytes <= limit);
  const lines: string[] = [];
  const configured = estimateMemory(model, work, plan);
  lines.push(
    `model ${model.modelType} from ${source}: ${model.nLayers} layers, d ${model.dModel}, ` +
      `${model.nHeads} heads, vocab ${model.vocabSize}`,
  );
  lines.push(
    `work: mini-batch ${work.miniBatchSize} x ${seqLen} tokens` +
      (cfg.data.promptTokens === null ? ` (prompt length unbounded: assumed ${UNBOUNDED_PROMPT_TOKENS})` : ''),
  );
  lines.push(
    `configured memory strategies: ${(cfg.memory as SlotConfig[]).map((m) => m.type).join(', ') || 'none'} ` + `(${describePlan(plan)})`,
  );
  lines.push('');
  lines.push(...breakdown(configured));
  lines.push('');
  lines.push(`${'strategies'.padEnd(22)}${'backend'.padStart(12)}${'host bf16'.padStart(12)}${'total'.padStart(12)}  fits`);
  for (const { name, plan: p } of strategyPlans(model)) {
    const e = estimateMemory(model, work, p);
    lines.push(
      `${name.padEnd(22)}${formatBytes(e.backendBytes).padStart(12)}${formatBytes(e.referenceOnHost ? e.referenceBytes : 0).padStart(12)}` +
        `${formatBytes(e.totalBytes).padStart(12)}  ${fits(e) ? 'yes' : 'no'}`,
    );
  }
  lines.push('');
  const constraints = [
    budget !== undefined && `budget ${formatBytes(budget)}`,
    limit !== undefined && `wasm heap limit ${formatBytes(limit)}`,
  ].filter(Boolean);
  if (constraints.length === 0) lines.push('no budget given (--budget 4GiB) and the backend has no heap limit');
  else if (fits(configured)) lines.push(`the configured setup fits (${constraints.join(', ')})`);
  else {
    const ok = strategyPlans(model)
      .filter(({ plan: p }) => fits(estimateMemory(model, work, p)))
      .map((s) => s.name);
    lines.push(
      `the configured setup does NOT fit (${constraints.join(', ')}); ` +
        (ok.length
          ? `these would: ${ok.join('; ')}`
          : `no strategy makes it fit: lower ppo.miniBatchSize (now ${work.miniBatchSize}) or the sequence length`),
    );
  }
  return lines.join('\n');
}

function describePlan(p: MemoryPlan): string {
  return [
    `shared layers ${p.numSharedLayers ?? 'none'}`,
    `frozen ${p.frozenStorage}`,
    p.roundTrainableToBf16 ? 'trainable rounded to bf16' : 'trainable float32',
    p.checkpointBlocks ? 'checkpointing' : 'no checkpointing',
  ].join(', ');
}

function breakdown(e: MemoryEstimate): string[] {
  const row = (k: string, v: number, note = '') => `  ${k.padEnd(26)}${formatBytes(v).padStart(12)}${note ? `  ${note}` : ''}`;
  return [
    'estimate of one training mini-batch step:',
    row('policy', e.policyBytes),
    row('reference', e.referenceBytes, e.referenceOnHost ? 'packed bfloat16, host memory' : 'float32'),
    row('value head', e.valueHeadBytes),
    row('optimiser state (Adam)', e.optimiserBytes),
    row('gradients', e.gradientBytes),
    row('activations', e.activationBytes, `loss head logits ${formatBytes(e.lossHeadBytes)}`),
    row('backend total', e.backendBytes),
    row('total', e.totalBytes),
  ];
}
