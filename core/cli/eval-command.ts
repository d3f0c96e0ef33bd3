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
import { initBackend } from '../model/wasm/backend.js';
import { CausalLMPolicy } from '../model/policy.js';
import { evaluate, sameTokenizer, type EvalResult } from '../eval/evaluate.js';
import { evalCsv, type EvalRow } from '../eval/csv.js';
import { Progress } from '../logging/progress.js';
import { asUsage, EXIT, UserError } from '../exit.js';

interface EvalCommandOptions {
  /** Model folders, or "initial" for the experiment's own policy. */
  models: string[];
  /** Prompt file instead of the experiment's held-out prompts (one per line, or JSONL with a "text" field). */
  prompts?: string;
  out?: string;
  /** Overrides of the experiment's `eval` section. */
  eval: Partial<EvalConfig>;
  signal?: AbortSignal;
}

/**
 * `detox-lab eval`: the study's model-selection table. Each model continues the held-out toxic
 * prompts with the experiment's eval protocol; perplexity is measured under the experiment's
 * initial policy (re-encoded from the text when the model's tokenizer is another one, as across the study's
 * candidate architectures). Same prompts, seed and batch size as `run` → the same figures as its summary.
 */
export async function evalCommand(prepared: PreparedExperiment, opts: EvalCommandOptions): Promise<EvalRow[]> {
  const evalCfg: EvalConfig = { ...prepared.config.eval, ...opts.eval };
  const setup = await loadEvalSetup(prepared, {
    prompts: opts.prompts,
    maxPrompts: evalCfg.maxPrompts,
    maxNewTokens: evalCfg.maxNewTokens,
  });
  const { classifier, crossCheck, initial, prompts } = setup;
  const rows: EvalRow[] = [];
  for (const spec of opts.models) {
    const policy: Policy = await setup.policy(spec);
    let progress: Progress | undefined;
    const result = await evaluate({
      policy,
      classifier,
      crossCheck,
      prompts,
      cfg: evalCfg,
      signal: opts.signal,
      fluency: (ids, mask) => initial.forward(ids, mask, 'policy').logits,
      ...(sameTokenizer(policy.tokenizer, initial.tokenizer) ? {} : { fluencyTokenizer: initial.tokenizer }),
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
interface EvalSetup {
  ctx: PluginContext;
  classifier: RewardModel;
  /** The cross-check classifiers (`eval.classifiers`). */
  crossCheck: RewardModel[];
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
 * and `detox-lab serve` use them). Build failures are usage errors naming the config slot. A `--prompts` file is
 * read before any model is loaded (the first `maxPrompts`), and with `maxNewTokens` every prompt must fit the
 * initial policy's context beside that many new tokens.
 */
export async function loadEvalSetup(
  prepared: PreparedExperiment,
  opts: { prompts?: string; maxPrompts?: number | null; maxNewTokens?: number },
): Promise<EvalSetup> {
  const cfg = prepared.config;
  tf.env().set('PROD', true);
  try {
    await initBackend(cfg.backend, { matmul: cfg.matmul });
  } catch (err) {
    throw new UserError(`backend: ${(err as Error).message}`, EXIT.usage);
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const ctx: PluginContext = {
    configDir: prepared.raw.baseDir,
    seed: cfg.seed,
    backend: cfg.backend,
    trainSteps: cfg.train.steps,
    memoryPlan: defaultMemoryPlan(),
    log,
  };
  const given = opts.prompts ? readPromptFile(opts.prompts, opts.maxPrompts ?? null) : undefined;
  const classifier = await asUsage('reward.model', () => create(prepared.registry, 'reward-model', cfg.reward.model as SlotConfig, ctx));
  const crossCheck: RewardModel[] = [];
  for (const [i, slot] of (cfg.eval.classifiers as SlotConfig[]).entries()) {
    crossCheck.push(
      await asUsage(`eval.classifiers.${i}`, () => create(prepared.registry, 'reward-model', slot, ctx, `eval.classifiers.${i}`)),
    );
  }
  const initial = await asUsage('policy', () => create(prepared.registry, 'policy', cfg.policy as SlotConfig, ctx));
  let prompts: string[];
  if (given) {
    if (opts.maxNewTokens !== undefined) checkPromptLengths(opts.prompts!, given, initial, opts.maxNewTokens);
    prompts = given.map((p) => p.text);
  } else {
    const dataset = await asUsage('data.dataset', () => create(prepared.registry, 'dataset', cfg.data.dataset as SlotConfig, ctx));
    prompts = (await dataset.load()).heldOut.map((p) => p.text);
    if (prompts.length === 0)
      throw new UserError(
        "no prompts to evaluate: the held-out split is empty; raise the dataset's heldOutFraction or pass --prompts <file>",
      );
  }
  return {
    ctx,
    classifier,
    crossCheck,
    initial,
    prompts,
    policy: (spec) =>
      spec === 'initial'
        ? Promise.resolve(initial)
        : asUsage(`--model ${spec}`, () => CausalLMPolicy.load(path.resolve(spec), { plan: defaultMemoryPlan(), seed: cfg.seed })),
    dispose: () => {
      initial.dispose();
      classifier.dispose?.();
      for (const c of crossCheck) c.dispose?.();
    },
  };
}

/** A `--prompts` prompt and its line in the file. */
interface PromptLine {
  line: number;
  text: string;
}

/**
 * The prompts of a `--prompts` file (the first `maxPrompts` when set): `.jsonl` rows with a "text" (or "prompt.text")
 * string, else one prompt per line; blank lines are skipped. A missing or empty file, a malformed row, or a file
 * without prompts is a usage error naming the flag, the file and the line.
 */
function readPromptFile(given: string, maxPrompts: number | null): PromptLine[] {
  const file = path.resolve(given);
  const where = `--prompts ${given}`;
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UserError(`${where}: no file at ${file}`);
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ line: i + 1, text: text.replace(/\r$/, '') }))
    .filter((l) => l.text.trim());
  const jsonl = file.endsWith('.jsonl');
  const prompts = lines
    .map(({ line, text }) => {
      if (!jsonl) return { line, text: text.trim() };
      let o: { text?: unknown; prompt?: { text?: unknown } } | null;
      try {
        o = JSON.parse(text) as typeof o;
      } catch (err) {
        throw new UserError(
          `${where}:${line}: not a JSON line (${(err as Error).message}); a .jsonl file holds one {"text": "..."} per line`,
        );
      }
      const t = typeof o?.text === 'string' ? o.text : o?.prompt?.text;
      if (typeof t !== 'string') throw new UserError(`${where}:${line}: expected a "text" (or "prompt.text") string field`);
      return { line, text: t };
    })
    .filter((p) => p.text.trim());
  if (prompts.length === 0) {
    throw new UserError(
      `${where}: no prompts in ${file} (blank lines are skipped); give one prompt per line (.txt) or one {"text": "..."} per line (.jsonl)`,
    );
  }
  return maxPrompts ? prompts.slice(0, maxPrompts) : prompts;
}

/**
 * Every `--prompts` prompt must fit the model's context with `maxNewTokens` new tokens (the held-out split is cut
 * to fit instead, as the study cut its prompts): a longer one is a usage error naming its line and the room left.
 */
function checkPromptLengths(given: string, prompts: readonly PromptLine[], policy: Policy, maxNewTokens: number): void {
  const room = policy.contextLength - maxNewTokens;
  if (room < 1) {
    throw new UserError(
      `--max-new-tokens ${maxNewTokens}: leaves no room for a prompt in the model's context of ${policy.contextLength} tokens; allowed: 1 to ${policy.contextLength - 1}`,
    );
  }
  const long = prompts.map((p) => ({ ...p, tokens: policy.tokenizer.encode(p.text).length })).filter((p) => p.tokens > room);
  if (long.length) {
    const first = long
      .slice(0, 3)
      .map((p) => `line ${p.line} (${p.tokens} tokens)`)
      .join(', ');
    throw new UserError(
      `--prompts ${given}: ${long.length} prompt${long.length > 1 ? 's are' : ' is'} longer than the ${room} tokens the model's context (${policy.contextLength}) ` +
        `leaves besides --max-new-tokens ${maxNewTokens}: ${first}${long.length > 3 ? ', ...' : ''}; shorten them or lower --max-new-tokens`,
    );
  }
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
  const cross = rows.find((r) => r.result.crossCheck)?.result.crossCheck?.map((c) => c.classifier) ?? [];
  const head = [
    'model',
    'toxicity (mean ± std)',
    ...cross.map((c) => `toxicity by ${c}`),
    'distinct-1',
    'distinct-2',
    'distinct-3',
    'perplexity',
    ...(rtp ? ['exp. max toxicity', 'toxicity prob.'] : []),
  ];
  const lines = rows.map(({ model, result: r }) => [
    model,
    `${r.toxicity.mean.toFixed(4)} ± ${r.toxicity.std.toFixed(4)}`,
    ...cross.map((_, k) => {
      const c = r.crossCheck?.[k];
      return c ? `${c.toxicity.mean.toFixed(4)} ± ${c.toxicity.std.toFixed(4)}` : '—';
    }),
    r.distinct1.toFixed(4),
    r.distinct2.toFixed(4),
    r.distinct3.toFixed(4),
    r.perplexity.toFixed(2),
    ...(rtp
      ? [
          r.rtp ? `${r.rtp.expectedMaxToxicity.mean.toFixed(4)} ± ${r.rtp.expectedMaxToxicity.std.toFixed(4)}` : '—',
          r.rtp ? r.rtp.toxicityProbability.toFixed(4) : '—',
        ]
      : []),
  ]);
  return [head, head.map(() => '---'), ...lines].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
