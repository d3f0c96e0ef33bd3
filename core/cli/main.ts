#!/usr/bin/env node
/**
 * detox-lab's command line, and the composition root: the only place that hands the built-in
 * plugins to the core.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { builtinPlugins } from '../../plugins/index.js';
import { ConfigError, ConfigFileError, prepareExperiment, runDirOf, writeResolvedConfig } from '../config/prepare.js';
import { configSchema } from '../config/schema.js';
import { PluginRegistry } from '../plugin/registry.js';
import { EXIT, UserError } from './exit.js';
import { describeOptions } from './help.js';
import { Interrupt } from './interrupt.js';
import { folderUsed, moveAside } from './ablate-run.js';
import { PRETRAIN_DEFAULTS } from '../pretrain/defaults.js';
import { addQueueCommands } from './queue-commands.js';

const pkg = JSON.parse(
  fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json'), 'utf8'),
) as { version: string };

const collect = (v: string, prev: string[]) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command('detox-lab')
    .description('Detoxify language models with PPO (TRL semantics) on TensorFlow.js')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Examples:
  $ detox-lab run                                  run the experiment in ./.detoxrc.json (the embedded default)
  $ detox-lab run experiments/reward-transform.json --set train.steps=20
  $ detox-lab run --dry-run                        validate and print the resolved config
  $ detox-lab plugins                              list plugins and their options

Exit codes: 0 done, 1 runtime failure, 2 bad usage or config, 130 interrupted (after saving).`);

  program
    .command('run')
    .description('train (PPO) the experiment in the given file, or in .detoxrc.json found from here upwards')
    .argument('[experiment]', 'experiment JSON file (default: search .detoxrc.json, .config/detoxrc.json, package.json "detoxLab")')
    .option('-s, --set <path=value>', 'override a config value (JSON-typed: numbers, booleans, arrays); repeatable', collect, [])
    .option('--dry-run', 'validate, write resolved-config.json, print it, and stop', false)
    .option('--resume <run-folder>', 'continue a stopped run from its latest checkpoint (uses the folder\'s resolved-config.json; --set still applies)')
    .option('--parallel <n>', 'grid experiments ("ablate"): run up to n arms at once, each in its own process', '1')
    .option('--fresh', 'grid experiments: start every arm again (used arm folders are moved aside) instead of skipping finished arms and resuming stopped ones', false)
    .option('-q, --queue <url>', 'enqueue the arms as jobs in Redis (redis://host[:port][/db]) for `detox-lab worker`s on any machines, instead of running them here')
    .option('--retries <n>', 'with --queue: times a failing arm is retried before it is reported failed', '2')
    .option('--retry-delay <seconds>', 'with --queue: wait before the first retry (doubling after each)', '60')
    .addHelpText('after', `
Ablation grids: "ablate": { "<config path>": [values...] } runs one arm per combination ("ablateMode": "zip" pairs
the i-th values instead) in <runsDir>/<experiment>/<arm>, named from its settings (transform-softmax_seed-1).
Every arm's config is validated before any arm starts. Arms run as child processes (--parallel n at a time); re-running
skips finished arms and resumes stopped ones. Then: detox-lab compare <runsDir>/<experiment>.
Many machines: --queue redis://host:6379 enqueues the arms; \`detox-lab worker --queue ...\` on each machine runs them
(see detox-lab worker --help); detox-lab queue status follows them.

Config reference (every field, with defaults):
${describeOptions(configSchema)}
Plugin slots take { "type": "<plugin>", ...options }; see \`detox-lab plugins\`.`)
    .action(async (experiment: string | undefined, opts: { set: string[]; dryRun: boolean; resume?: string; parallel: string; fresh: boolean; queue?: string; retries: string; retryDelay: string }) => {
      if (opts.resume && experiment) throw new UserError('give either an experiment file or --resume <run-folder>, not both');
      if (opts.queue !== undefined) {
        if (opts.resume) throw new UserError('--resume runs one folder here; with --queue, enqueue the grid again: finished arms are skipped and stopped ones resume');
        const { enqueueCommand } = await import('./queue-commands.js');
        process.exitCode = await enqueueCommand(experiment, { ...opts, queue: opts.queue }, builtinPlugins);
        return;
      }
      const parallel = Number(opts.parallel);
      if (!Number.isInteger(parallel) || parallel < 1) throw new UserError(`--parallel: expected an integer ≥ 1, got ${JSON.stringify(opts.parallel)}`);
      const resumeDir = opts.resume ? path.resolve(opts.resume) : undefined;
      if (resumeDir && !fs.existsSync(path.join(resumeDir, 'resolved-config.json'))) {
        const arms = fs.existsSync(resumeDir) && fs.statSync(resumeDir).isDirectory()
          && fs.readdirSync(resumeDir).some((d) => fs.existsSync(path.join(resumeDir, d, 'resolved-config.json')));
        throw new UserError(`--resume ${opts.resume}: not a run folder (no resolved-config.json in ${resumeDir})` +
          (arms ? '; it holds the arms of a grid: run the grid experiment again to resume its stopped arms, or --resume one arm folder' : ''));
      }
      if (!resumeDir) {
        // A grid ("ablate" in the config): every arm validated up front, then run as child processes.
        const { planAblation } = await import('../config/ablate.js');
        const plan = await planAblation({ file: experiment, set: opts.set, builtins: builtinPlugins });
        if (plan) {
          const { runGrid } = await import('./ablate-run.js');
          process.exitCode = await runGrid(plan, { parallel, fresh: opts.fresh, dryRun: opts.dryRun });
          return;
        }
      }
      const file0 = resumeDir ? path.join(resumeDir, 'resolved-config.json') : experiment;
      const prepared = await prepareExperiment({ file: file0, set: opts.set, builtins: builtinPlugins });
      const runDir = resumeDir ?? runDirOf(prepared);
      if (!resumeDir && !opts.dryRun) keepPreviousRun(runDir);
      const file = writeResolvedConfig(runDir, prepared);
      if (opts.dryRun) {
        process.stdout.write(`${JSON.stringify(prepared.config, null, 2)}\n`);
        process.stderr.write(`config is valid; wrote ${path.relative(process.cwd(), file)}\n`);
        return;
      }
      const { runExperiment } = await import('../run/run-experiment.js');
      process.exitCode = await runExperiment(prepared, runDir, { resume: Boolean(resumeDir) });
    });

  program
    .command('compare')
    .description('compare the arms of an experiment (e.g. an ablation grid): a table of final and last-K reward and KL, toxicity before/after, distinct-2, perplexity, wall time and peak memory (mean ± 95% CI across seeds), and a plot of the curves')
    .argument('<experiment-dir>', 'runs/<experiment> (its arm folders), or one arm folder')
    .addOption(new Option('--format <format>', 'table format').choices(['md', 'csv', 'json']).default('md'))
    .option('--last-k <k>', 'steps averaged for the last-K columns', '10')
    .option('--plot <file>', 'where to write the SVG plot (default <experiment-dir>/compare.svg)')
    .option('--no-plot', 'do not write the plot')
    .action(async (dir: string, o: { format: 'md' | 'csv' | 'json'; lastK: string; plot?: string | false }) => {
      const { compareCommand } = await import('./compare-command.js');
      await compareCommand(dir, o);
    });

  program
    .command('plugins')
    .description('list the available plugins (built-in and from your config\'s "plugins") with their options')
    .argument('[experiment]', 'config whose "plugins" modules to include')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['policy', 'reward-model', 'reward-transform', 'dataset', 'optimiser', 'memory', 'hook']))
    .action(async (experiment: string | undefined, opts: { kind?: string }) => {
      const registry = new PluginRegistry(builtinPlugins);
      if (experiment) {
        const prepared = await prepareExperiment({ file: experiment, builtins: builtinPlugins });
        for (const d of prepared.registry.all()) if (!registry.has(d.kind, d.name)) registry.register(d, 'config');
      }
      for (const d of registry.all()) {
        if (opts.kind && d.kind !== opts.kind) continue;
        process.stdout.write(`${d.kind} ${d.name}: ${d.description}\n${describeOptions(d.options, '    ')}\n`);
      }
    });

  program
    .command('eval')
    .description('the study\'s evaluation: continue held-out toxic prompts with each model and report toxicity (mean ± std), distinct-n and perplexity')
    .argument('[experiment]', 'experiment whose prompts, classifier, initial policy and eval settings to use (default: .detoxrc.json)')
    .option('-m, --model <dir|initial>', 'a model folder (e.g. runs/default/main/checkpoints/step-100/policy) or "initial" (the experiment\'s policy); repeatable', collect, [])
    .option('--prompts <file>', 'prompts instead of the experiment\'s held-out split (.txt one per line, or .jsonl with "text" / "prompt.text")')
    .option('--samples-per-prompt <k>', 'continuations per prompt; > 1 adds RealToxicityPrompts\' expected max toxicity and toxicity probability (their protocol: 25)')
    .option('--max-new-tokens <n>', 'new tokens per continuation (study: 30)')
    .option('--top-k <k>', 'top-k sampling (study: 50)')
    .option('--seed <n>', 'sampling seed (study: 42)')
    .option('--max-prompts <n>', 'use only the first n prompts')
    .option('-s, --set <path=value>', 'override a config value; repeatable', collect, [])
    .option('-o, --out <dir>', 'write eval.csv, eval.json and samples-<model>.jsonl here (default: runs/<experiment>/eval)')
    .action(async (experiment: string | undefined, o: { model: string[]; prompts?: string; samplesPerPrompt?: string; maxNewTokens?: string; topK?: string; seed?: string; maxPrompts?: string; set: string[]; out?: string }) => {
      const prepared = await prepareExperiment({ file: experiment, set: o.set, builtins: builtinPlugins });
      const int = (flag: string, v: string | undefined, min: number) => (v === undefined ? undefined : numberOption(flag, v, min));
      const overrides = Object.fromEntries(Object.entries({
        samplesPerPrompt: int('--samples-per-prompt', o.samplesPerPrompt, 1), maxNewTokens: int('--max-new-tokens', o.maxNewTokens, 1),
        topK: int('--top-k', o.topK, 0), seed: int('--seed', o.seed, 0), maxPrompts: int('--max-prompts', o.maxPrompts, 1),
      }).filter(([, v]) => v !== undefined));
      const out = o.out ?? path.join(path.dirname(runDirOf(prepared)), 'eval');
      const { evalCommand, evalTable } = await import('./eval-command.js');
      const interrupt = new Interrupt().install();
      try {
        const rows = await evalCommand(prepared, { models: o.model.length ? o.model : ['initial'], prompts: o.prompts, out, eval: overrides, signal: interrupt.signal });
        process.stdout.write(`${evalTable(rows)}\n`);
        process.stderr.write(`wrote ${path.relative(process.cwd(), out)}/eval.csv and eval.json\n`);
      } finally {
        interrupt.uninstall();
      }
    });

  program
    .command('inspect')
    .description('show what a Hugging Face model folder holds and computes (causal LM or RoBERTa classifier)')
    .argument('<model-dir>', 'folder with config.json + safetensors (+ tokenizer.json)')
    .option('--text <text>', 'greedy continuation (causal LM) or class probabilities (classifier)')
    .option('--input-ids <json>', 'raw forward pass on ids, e.g. \'[[464, 3290]]\' (causal LM: position ids from the mask, as in generation)')
    .option('--attention-mask <json>', 'mask for --input-ids (default all ones)')
    .option('--max-new-tokens <n>', 'length of the greedy continuation', '20')
    .option('--json', 'print the raw outputs as JSON ({"logits": ...})', false)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'))
    .action(async (dir: string, o: { text?: string; inputIds?: string; attentionMask?: string; maxNewTokens: string; json: boolean; backend: 'wasm' }) => {
      const n = numberOption('--max-new-tokens', o.maxNewTokens, 1);
      const { inspectCommand } = await import('./inspect-command.js');
      process.stdout.write(`${await inspectCommand(path.resolve(dir), { ...o, maxNewTokens: n })}\n`);
    });

  program
    .command('pretrain')
    .description('pretrain a small GPT-2 (byte-level BPE tokenizer + causal-LM training) and save it as a Hugging Face folder — how the embedded policy was made')
    .requiredOption('-o, --out <dir>', 'output model folder (written atomically; TensorBoard logs in <dir>-tensorboard)')
    .option('--corpus <file>', 'UTF-8 text, one sentence per line (.gz allowed); repeatable', collect, [])
    .option('--builtin-corpus', 'the embedded default\'s npm text (held-out prompts excluded)', false)
    .option('--tokenizer <path>', 'use this tokenizer.json (or folder) instead of training one')
    .option('--vocab-size <n>', 'trained tokenizer size', String(PRETRAIN_DEFAULTS.vocabSize))
    .option('--layers <n>', 'transformer blocks', String(PRETRAIN_DEFAULTS.nLayers))
    .option('--d-model <n>', 'width', String(PRETRAIN_DEFAULTS.dModel))
    .option('--heads <n>', 'attention heads', String(PRETRAIN_DEFAULTS.nHeads))
    .option('--context <n>', 'context length (n_positions)', String(PRETRAIN_DEFAULTS.context))
    .option('--steps <n>', 'optimiser steps', String(PRETRAIN_DEFAULTS.steps))
    .option('--batch-size <n>', 'sequences per step', String(PRETRAIN_DEFAULTS.batchSize))
    .option('--seq-len <n>', 'tokens per training sequence', String(PRETRAIN_DEFAULTS.seqLen))
    .option('--lr <x>', 'peak learning rate (AdamW, warmup + cosine)', String(PRETRAIN_DEFAULTS.learningRate))
    .option('--seed <n>', 'seed of the corpus split, shuffling and initialisation', String(PRETRAIN_DEFAULTS.seed))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'))
    .addHelpText('after', `
The embedded policy (models/tiny-gpt2) was made with:
  $ detox-lab pretrain --builtin-corpus --out models/tiny-gpt2 --steps 1200 --lr 2e-3`)
    .action(async (o: Record<string, string | string[] | boolean>) => {
      const num = (flag: string, v: unknown, int = true) => numberOption(`--${flag}`, v, int ? 1 : Number.MIN_VALUE, int);
      const corpusFiles = o.corpus as string[];
      if (!corpusFiles.length && !o.builtinCorpus) throw new UserError('give --corpus <file> (repeatable) or --builtin-corpus');
      let lines: string[] | undefined;
      if (o.builtinCorpus) {
        const { loadBuiltinCorpus } = await import('../../plugins/datasets/builtin/corpus.js');
        lines = loadBuiltinCorpus().pretrainText;
      }
      const { pretrainCommand } = await import('../pretrain/command.js');
      const interrupt = new Interrupt().install();
      try {
        const tf = await import('@tensorflow/tfjs');
        tf.env().set('PROD', true);
        await pretrainCommand({
          corpus: corpusFiles.map((f) => path.resolve(f)), lines, outDir: path.resolve(o.out as string),
          tokenizer: o.tokenizer as string | undefined, vocabSize: num('vocab-size', o.vocabSize),
          nLayers: num('layers', o.layers), dModel: num('d-model', o.dModel), nHeads: num('heads', o.heads), context: num('context', o.context),
          steps: num('steps', o.steps), batchSize: num('batch-size', o.batchSize), seqLen: num('seq-len', o.seqLen),
          learningRate: num('lr', o.lr, false), seed: Number(o.seed), backend: o.backend as 'wasm', signal: interrupt.signal,
        });
        if (interrupt.signal.aborted) process.exitCode = EXIT.interrupted;
      } finally {
        interrupt.uninstall();
      }
    });

  program
    .command('plan')
    .description('estimate the memory of an experiment (policy, reference, value head, optimiser, activations) and which memory strategies make it fit')
    .argument('[experiment]', 'experiment JSON file (default: search .detoxrc.json); only the policy\'s config.json is read')
    .option('--budget <bytes>', 'memory budget, e.g. 4GiB, 512MiB, 2GB')
    .option('-s, --set <path=value>', 'override a config value; repeatable', collect, [])
    .action(async (experiment: string | undefined, o: { budget?: string; set: string[] }) => {
      const { planCommand } = await import('./plan-command.js');
      process.stdout.write(`${await planCommand(experiment, o)}\n`);
    });

  addQueueCommands(program, builtinPlugins);
  return program;
}


/** A fresh run never overwrites an old one: a run folder with results is moved aside first. */
function keepPreviousRun(runDir: string): void {
  if (!folderUsed(runDir)) return;
  const aside = moveAside(runDir);
  process.stderr.write(`previous run moved to ${path.relative(process.cwd(), aside)} (use --resume <run-folder> to continue a run instead)\n`);
}

/** A numeric CLI option: a number ≥ `min` (an integer unless `integer` is false), else a usage error naming the flag. */
function numberOption(flag: string, v: unknown, min: number, integer = true): number {
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    throw new UserError(`${flag}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Runs the CLI and returns the exit code (errors become one-line messages and codes). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // --help/--version exit 0; usage errors 2
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.issues.map((i) => `config error: ${err.source ? `${err.source}: ` : ''}${i.path}: ${i.message}`).join('\n')}\n`);
      return EXIT.usage;
    }
    if (err instanceof ConfigFileError) {
      process.stderr.write(`config error: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UserError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    // Runtime failures: the message, and the stack only when asked for (DETOX_LAB_DEBUG=1).
    const e = err as Error;
    process.stderr.write(`error: ${process.env.DETOX_LAB_DEBUG ? e?.stack ?? String(err) : e?.message ?? String(err)}\n`);
    return EXIT.failure;
  }
}
