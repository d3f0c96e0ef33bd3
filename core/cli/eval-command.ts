import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { PreparedExperiment } from '../config/prepare.js';
import type { EvalConfig, SlotConfig } from '../config/schema.js';
import { create } from '../di/container.js';
import { defaultMemoryPlan } from '../interfaces/memory.js';
import type { Policy } from '../interfaces/policy.js';
import type { PluginContext } from '../plugin/define.js';
import type { RewardModel } from '../interfaces/reward.js';
import { initBackend } from '../model/backend.js';
import { CausalLMPolicy } from '../model/policy.js';
import { evaluate, type EvalResult } from '../eval/evaluate.js';
import { evalCsv, type EvalRow } from '../eval/csv.js';
import { Progress } from '../logging/progress.js';
import { EXIT, UserError } from './exit.js';

export interface EvalCommandOptions {
  /** Model folders, or "initial" for the experiment's own policy. */
  models: string[];
  /** Prompt file instead of the experiment's held-out prompts (one per line, or JSONL with a "text" field). */
  prompts?: string;
  out?: string;
  /** Overrides of the experiment's `eval` section. */
  eval: Partial<EvalConfig>;
  signal?: AbortSignal;
}

export type { EvalRow };

/**
 * `detox-lab eval`: the study's model-selection table. Each model continues the held-out toxic
 * prompts with the experiment's eval protocol; perplexity is measured under the experiment's
 * initial policy. Same prompts, seed and batch size as `run` → the same figures as its summary.
 */
export async function evalCommand(prepared: PreparedExperiment, opts: EvalCommandOptions): Promise<EvalRow[]> {
  const evalCfg: EvalConfig = { ...prepared.config.eval, ...opts.eval };
  const setup = await loadEvalSetup(prepared, { prompts: opts.prompts });
  const { classifier, initial, prompts } = setup;
  const rows: EvalRow[] = [];
  for (const spec of opts.models) {
    const policy: Policy = await setup.policy(spec);
    let progress: Progress | undefined;
    const result = await evaluate({
      policy, classifier, prompts, cfg: evalCfg, signal: opts.signal,
      fluency: (ids, mask) => initial.forward(ids, mask, 'policy').logits,
      onProgress: (done, total) => {
        progress ??= new Progress(`eval ${spec}`, total, process.stderr, { everyMs: 3000 });
        progress.update(done);
      },
    });
    progress?.end();
    const { samples, ...figures } = result;
    rows.push({ model: spec, result: figures });
    if (opts.out) writeSamples(opts.out, spec, samples);
    if (policy !== initial) policy.dispose();
  }
  setup.dispose();
  if (opts.out) writeTables(opts.out, rows);
  return rows;
}

/** What an evaluation needs besides the models: the backend, the classifier, the initial policy and the prompts. */
export interface EvalSetup {
  ctx: PluginContext;
  classifier: RewardModel;
  /** The experiment's own policy: the "initial" model and the fluency judge. */
  initial: Policy;
  /** Held-out prompts of the experiment, or the lines of the prompt file. */
  prompts: string[];
  /** "initial", or a model folder loaded as a policy (usage errors name the spec). */
  policy(spec: string): Promise<Policy>;
  dispose(): void;
}

/**
 * Initialises the backend and builds the experiment's classifier, initial policy and prompts (as `detox-lab eval`
 * and `detox-lab serve` use them). Build failures are usage errors naming the config slot.
 */
export async function loadEvalSetup(prepared: PreparedExperiment, opts: { prompts?: string }): Promise<EvalSetup> {
  const cfg = prepared.config;
  tf.env().set('PROD', true);
  try {
    await initBackend(cfg.backend, { matmul: cfg.matmul });
  } catch (err) {
    throw new UserError(`backend: ${(err as Error).message}`, EXIT.usage);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const ctx: PluginContext = {
    configDir: prepared.raw.baseDir, seed: cfg.seed, backend: cfg.backend, trainSteps: cfg.train.steps, memoryPlan: defaultMemoryPlan(), log,
  };
  const build = async <T>(what: string, f: () => Promise<T>) => {
    try { return await f(); } catch (err) { throw new UserError(`${what}: ${(err as Error).message}`, EXIT.usage); }
  };
  const classifier = await build('reward.model', () => create(prepared.registry, 'reward-model', cfg.reward.model as SlotConfig, ctx));
  const initial = await build('policy', () => create(prepared.registry, 'policy', cfg.policy as SlotConfig, ctx));
  let prompts: string[];
  if (opts.prompts) {
    const file = path.resolve(opts.prompts);
    if (!fs.existsSync(file)) throw new UserError(`--prompts: no file at ${file}`);
    prompts = readPromptLines(file);
  } else {
    const dataset = await build('data.dataset', () => create(prepared.registry, 'dataset', cfg.data.dataset as SlotConfig, ctx));
    prompts = (await dataset.load()).heldOut.map((p) => p.text);
  }
  if (prompts.length === 0) throw new UserError('no prompts to evaluate (the held-out split is empty; pass --prompts <file>)');
  return {
    ctx, classifier, initial, prompts,
    policy: (spec) => (spec === 'initial'
      ? Promise.resolve(initial)
      : build(`--model ${spec}`, () => CausalLMPolicy.load(path.resolve(spec), { plan: defaultMemoryPlan(), seed: cfg.seed }))),
    dispose: () => {
      initial.dispose();
      classifier.dispose?.();
    },
  };
}

function readPromptLines(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) {
    return text.split('\n').filter((l) => l.trim()).map((l, i) => {
      const o = JSON.parse(l) as { text?: unknown; prompt?: { text?: unknown } };
      const t = typeof o.text === 'string' ? o.text : o.prompt?.text;
      if (typeof t !== 'string') throw new UserError(`--prompts ${file}:${i + 1}: expected a "text" (or "prompt.text") string field`);
      return t;
    });
  }
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';

function writeSamples(out: string, model: string, samples: EvalResult['samples']): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, `samples-${slug(model)}.jsonl`), samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
}

function writeTables(out: string, rows: EvalRow[]): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'eval.json'), `${JSON.stringify(rows, null, 2)}\n`);
  fs.writeFileSync(path.join(out, 'eval.csv'), evalCsv(rows));
}

/** The printed model-selection table (markdown). */
export function evalTable(rows: EvalRow[]): string {
  const rtp = rows.some((r) => r.result.rtp);
  const head = ['model', 'toxicity (mean ± std)', 'distinct-1', 'distinct-2', 'distinct-3', 'perplexity', ...(rtp ? ['exp. max toxicity', 'toxicity prob.'] : [])];
  const lines = rows.map(({ model, result: r }) => [
    model, `${r.toxicity.mean.toFixed(4)} ± ${r.toxicity.std.toFixed(4)}`, r.distinct1.toFixed(4), r.distinct2.toFixed(4), r.distinct3.toFixed(4),
    r.perplexity.toFixed(2), ...(rtp ? [r.rtp ? `${r.rtp.expectedMaxToxicity.mean.toFixed(4)} ± ${r.rtp.expectedMaxToxicity.std.toFixed(4)}` : '—', r.rtp ? r.rtp.toxicityProbability.toFixed(4) : '—'] : []),
  ]);
  return [head, head.map(() => '---'), ...lines].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
