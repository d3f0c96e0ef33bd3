#!/usr/bin/env node
/**
 * detox-lab's command line, and the composition root: the only place that hands the built-in
 * plugins to the core.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { builtinPlugins } from './builtins.js';
import { ConfigError, ConfigFileError, missingPaths, prepareExperiment, runDirOf } from '../config/prepare.js';
import { configSchema } from '../config/schema.js';
import { PluginRegistry } from '../plugin/registry.js';
import { PLUGIN_KINDS } from '../plugin/define.js';
import { EXIT, UserError } from '../exit.js';
import { InputError } from '../errors.js';
import { describeOptions } from './help.js';
import { Interrupt } from '../util/interrupt.js';
import { decideFolder, moveAsideRefusal, RESUMABLE_SETTINGS, type FolderDecision } from '../training/run-folder.js';
import { PRETRAIN_DEFAULTS } from '../pretrain/defaults.js';
import { CLASSIFIER_DEFAULTS } from '../classifier/defaults.js';
import { addQueueCommands } from './queue-commands.js';

const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../package.json'), 'utf8')) as {
  version: string;
};

const collect = (v: string, prev: string[]) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command('detox-lab')
    .description('Detoxify language models with PPO (TRL semantics) on TensorFlow.js')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Before any .command(): subcommands copy these settings when created, so their usage errors (unknown option,
    // missing argument, bad choice) also throw a CommanderError, which main() turns into exit code 2.
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText(
      'after',
      `
Examples:
  $ detox-lab run                                  run the experiment in ./.detoxrc.json (the embedded default)
  $ detox-lab run experiments/reward-transform.json --set train.steps=20
  $ detox-lab run --dry-run                        validate and print the resolved config
  $ detox-lab plugins                              list plugins and their options

Exit codes: 0 done, 1 runtime failure, 2 bad usage, config or input (data or model files), 130 interrupted (after saving).`,
    );

  program
    .command('run')
    .description('train (PPO) the experiment in the given file, or in .detoxrc.json found from here upwards')
    .argument('[experiment]', 'experiment JSON file (default: search .detoxrc.json, .config/detoxrc.json, package.json "detoxLab")')
    .option('-s, --set <path=value>', 'override a config value (JSON-typed: numbers, booleans, arrays); repeatable', collect, [])
    .option('--dry-run', 'validate, print the resolved config and what would happen to the run folder; writes nothing', false)
    .option(
      '--resume <run-folder>',
      `continue a stopped run from its newest complete checkpoint, with the folder's resolved-config.json (--set only for ${RESUMABLE_SETTINGS.join(', ')})`,
    )
    .option('--parallel <n>', 'grid experiments ("ablate"): run up to n arms at once, each in its own process', '1')
    .option(
      '--fresh',
      'start again although the run folder holds a run (finished, stopped, or with another config): the old folder is moved to <arm>.old-<time> once the new run is built',
      false,
    )
    .option(
      '--keep-old',
      'with --fresh: keep every previous copy (without it, --fresh refuses when a <arm>.old-* copy already exists)',
      false,
    )
    .option(
      '-q, --queue <url>',
      'enqueue the arms as jobs in Redis (redis://host[:port][/db]) for `detox-lab worker`s on any machines, instead of running them here',
    )
    .option('--retries <n>', 'with --queue: times a failing arm is retried before it is reported failed', '2')
    .option('--retry-delay <seconds>', 'with --queue: wait before the first retry (doubling after each)', '60')
    .addHelpText(
      'after',
      `
Ablation grids: "ablate": { "<config path>": [values...] } runs one arm per combination ("ablateMode": "zip" pairs
the i-th values instead) in <runsDir>/<experiment>/<arm>, named from its settings (transform-softmax_seed-1).
Every arm's config is validated before any arm starts. Arms run as child processes (--parallel n at a time); re-running
skips finished arms and resumes stopped ones. Then: detox-lab compare <runsDir>/<experiment>.
Many machines: --queue redis://host:6379 enqueues the arms; \`detox-lab worker --queue ...\` on each machine runs them
(see detox-lab worker --help); detox-lab queue status follows them.

Run folders: one process at a time owns <runsDir>/<experiment>/<arm> (a .lock file). Running the same experiment
again skips a finished run (exit 0), resumes a stopped one with the same config, and refuses one with another config;
--fresh starts over. A resumed run's samples.jsonl and TensorBoard events are cut back to its checkpoint, so the
finished folder equals an uninterrupted run's.

Config reference (every field, with defaults):
${describeOptions(configSchema)}
Plugin slots take { "type": "<plugin>", ...options }; see \`detox-lab plugins\`.`,
    )
    .action(
      async (
        experiment: string | undefined,
        opts: {
          set: string[];
          dryRun: boolean;
          resume?: string;
          parallel: string;
          fresh: boolean;
          keepOld: boolean;
          queue?: string;
          retries: string;
          retryDelay: string;
        },
      ) => {
        if (opts.resume && experiment) throw new UserError('give either an experiment file or --resume <run-folder>, not both');
        if (opts.queue !== undefined) {
          if (opts.resume)
            throw new UserError(
              '--resume runs one folder here; with --queue, enqueue the grid again: finished arms are skipped and stopped ones resume',
            );
          const { enqueueCommand } = await import('./queue-commands.js');
          process.exitCode = await enqueueCommand(experiment, { ...opts, queue: opts.queue }, builtinPlugins);
          return;
        }
        const parallel = Number(opts.parallel);
        if (!Number.isInteger(parallel) || parallel < 1)
          throw new UserError(`--parallel: expected an integer ≥ 1, got ${JSON.stringify(opts.parallel)}`);
        const resumeDir = opts.resume ? path.resolve(opts.resume) : undefined;
        if (resumeDir && !fs.existsSync(path.join(resumeDir, 'resolved-config.json'))) {
          const arms =
            fs.existsSync(resumeDir) &&
            fs.statSync(resumeDir).isDirectory() &&
            fs.readdirSync(resumeDir).some((d) => fs.existsSync(path.join(resumeDir, d, 'resolved-config.json')));
          throw new UserError(
            `--resume ${opts.resume}: not a run folder (no resolved-config.json in ${resumeDir})` +
              (arms
                ? '; it holds the arms of a grid: run the grid experiment again to resume its stopped arms, or --resume one arm folder'
                : ''),
          );
        }
        if (!resumeDir) {
          // A grid ("ablate" in the config): every arm validated up front, then run as child processes.
          const { planAblation } = await import('../config/ablate.js');
          const plan = await planAblation({ file: experiment, set: opts.set, builtins: builtinPlugins });
          if (plan) {
            const { runGrid } = await import('../training/arm-process.js');
            process.exitCode = await runGrid(plan, { parallel, fresh: opts.fresh, keepOld: opts.keepOld, dryRun: opts.dryRun });
            return;
          }
        }
        if (resumeDir) {
          if (opts.fresh) throw new UserError('--fresh starts over and --resume continues: give one of them');
          const fixed = opts.set
            .map((s) => s.split('=')[0]!.trim())
            .filter((k) => !RESUMABLE_SETTINGS.some((a) => k === a || k.startsWith(`${a}.`)));
          if (fixed.length) {
            throw new UserError(
              `--set ${fixed.join(', ')}: cannot change when resuming (the checkpoint was trained with the recorded config); ` +
                `allowed on --resume: ${RESUMABLE_SETTINGS.join(', ')}`,
            );
          }
        }
        const file0 = resumeDir ? path.join(resumeDir, 'resolved-config.json') : experiment;
        const prepared = await prepareExperiment({ file: file0, set: opts.set, builtins: builtinPlugins });
        const runDir = resumeDir ?? runDirOf(prepared);
        const rel = (p: string) => path.relative(process.cwd(), p) || p;
        const decision: FolderDecision = resumeDir
          ? { action: 'resume', step: 0 }
          : decideFolder(runDir, prepared.config, opts.fresh, prepared.registry);
        if (opts.dryRun) {
          // The files the plugins will open must exist: a dry run that says "valid" is a run that can start.
          const missing = missingPaths(prepared);
          if (missing.length) throw new ConfigError(missing, rel(prepared.raw.filepath));
          const would =
            decision.action === 'refuse'
              ? `be refused: ${decision.reason}`
              : decision.action === 'skip'
                ? `do nothing: ${rel(runDir)} holds a finished run`
                : decision.action === 'resume'
                  ? `resume the run in ${rel(runDir)}`
                  : `start in ${rel(runDir)}${decision.moveAside ? ' (the old folder moved aside)' : ''}`;
          process.stdout.write(`${JSON.stringify(prepared.config, null, 2)}\n`);
          process.stderr.write(`config is valid; a run would ${would}; nothing was written\n`);
          return;
        }
        if (decision.action === 'refuse') throw new UserError(decision.reason);
        if (decision.action === 'skip') {
          let last = `${rel(runDir)}/checkpoints/step-<N>`;
          try {
            const done = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { checkpoint?: string };
            if (done.checkpoint) last = rel(done.checkpoint);
          } catch {
            /* no readable summary.json: the hint names the checkpoint folder pattern */
          }
          process.stderr.write(
            `${rel(runDir)} already holds a finished run (summary.json): nothing to do; --fresh runs it again, ` +
              `detox-lab eval -m ${last}/policy measures it\n`,
          );
          return;
        }
        if (decision.action === 'start' && decision.moveAside) {
          const refusal = moveAsideRefusal(runDir, opts.keepOld);
          if (refusal) throw new UserError(refusal);
        }
        if (!resumeDir && decision.action === 'resume')
          process.stderr.write(
            `${rel(runDir)} holds a run of this experiment: resuming it from step ${decision.step} (--fresh starts over)\n`,
          );
        const { runExperiment } = await import('../training/run-experiment.js');
        process.exitCode = await runExperiment(prepared, runDir, {
          resume: decision.action === 'resume',
          moveAside: decision.action === 'start' && Boolean(decision.moveAside),
        });
      },
    );

  program
    .command('compare')
    .description(
      'compare the arms of an experiment (e.g. an ablation grid): a table of final and last-K reward and KL, toxicity before/after, distinct-2, perplexity, wall time and peak memory (mean ± 95% CI across seeds), and a plot of the curves',
    )
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
    .addOption(new Option('--kind <kind>', 'only this kind').choices(PLUGIN_KINDS))
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
    .description(
      "the study's evaluation: continue held-out toxic prompts with each model and report toxicity (mean ± std), distinct-n and perplexity",
    )
    .argument('[experiment]', 'experiment whose prompts, classifier, initial policy and eval settings to use (default: .detoxrc.json)')
    .option(
      '-m, --model <dir|initial>',
      'a model folder (e.g. runs/default/main/checkpoints/step-100/policy) or "initial" (the experiment\'s policy); repeatable',
      collect,
      [],
    )
    .option(
      '--prompts <file>',
      'prompts instead of the experiment\'s held-out split (.txt one per line, or .jsonl with "text" / "prompt.text"); each must fit the model\'s context with --max-new-tokens',
    )
    .option(
      '--samples-per-prompt <k>',
      "continuations per prompt; > 1 adds RealToxicityPrompts' expected max toxicity and toxicity probability (their protocol: 25)",
    )
    .option('--max-new-tokens <n>', 'new tokens per continuation (study: 30)')
    .option('--top-k <k>', 'top-k sampling (study: 50)')
    .option('--seed <n>', 'sampling seed (study: 42)')
    .option('--max-prompts <n>', 'use only the first n prompts')
    .option('-s, --set <path=value>', 'override a config value; repeatable', collect, [])
    .option('-o, --out <dir>', 'write eval.csv, eval.json and samples-<model>.jsonl here (default: runs/<experiment>/eval)')
    .action(
      async (
        experiment: string | undefined,
        o: {
          model: string[];
          prompts?: string;
          samplesPerPrompt?: string;
          maxNewTokens?: string;
          topK?: string;
          seed?: string;
          maxPrompts?: string;
          set: string[];
          out?: string;
        },
      ) => {
        const prepared = await prepareExperiment({ file: experiment, set: o.set, builtins: builtinPlugins });
        const int = (flag: string, v: string | undefined, min: number) => (v === undefined ? undefined : numberOption(flag, v, min));
        const overrides = Object.fromEntries(
          Object.entries({
            samplesPerPrompt: int('--samples-per-prompt', o.samplesPerPrompt, 1),
            maxNewTokens: int('--max-new-tokens', o.maxNewTokens, 1),
            topK: int('--top-k', o.topK, 0),
            seed: int('--seed', o.seed, 0),
            maxPrompts: int('--max-prompts', o.maxPrompts, 1),
          }).filter(([, v]) => v !== undefined),
        );
        const out = o.out ?? path.join(path.dirname(runDirOf(prepared)), 'eval');
        const { evalCommand, evalTable } = await import('./eval-command.js');
        const interrupt = new Interrupt().install();
        try {
          const rows = await evalCommand(prepared, {
            models: o.model.length ? o.model : ['initial'],
            prompts: o.prompts,
            out,
            eval: overrides,
            signal: interrupt.signal,
          });
          process.stdout.write(`${evalTable(rows)}\n`);
          process.stderr.write(`wrote ${path.relative(process.cwd(), out)}/eval.csv and eval.json\n`);
        } finally {
          interrupt.uninstall();
        }
      },
    );

  program
    .command('serve')
    .description(
      "a local web page: compare models side by side on a prompt (continuations, P(toxic), highlighted terms; batches with eval's figures and a CSV) and browse runs (curves with the before/after evaluation, samples, the compare table)",
    )
    .argument('[experiment]', 'experiment whose classifier, initial policy, prompts and eval settings to use (default: .detoxrc.json)')
    .option(
      '-m, --model <name=dir|initial>',
      'a model column, e.g. base=initial or detox=runs/default/main/checkpoints/step-60/policy; repeatable (default: base=initial, plus detox=<latest checkpoint of --run>)',
      collect,
      [],
    )
    .option(
      '--run <run-folder>',
      'open the run browser on runs/<experiment>/<arm> (its runs folder is listed; its latest checkpoint is the default "detox" model)',
    )
    .option('--runs-dir <dir>', "the runs folder the run browser lists (default: the experiment's runsDir)")
    .option('--prompts <file>', 'prompts to offer instead of the held-out split (.txt one per line, or .jsonl with "text")')
    .option('-p, --port <port>', 'TCP port (0 = any free port)', '7860')
    .option('--host <host>', 'address to bind; anything but 127.0.0.1 / localhost / ::1 exposes the models to the network', '127.0.0.1')
    .option('--log', 'log every request to stderr', false)
    .option('-s, --set <path=value>', 'override a config value; repeatable', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  $ detox-lab serve --run runs/default/main          the initial policy against the run's latest checkpoint
  $ detox-lab serve -m base=initial -m detox=runs/default/main/checkpoints/step-60/policy --port 8080

Open the printed address. The compare page sends one request per model; each model generates one request at a
time and the page shows the queue position. Batch mode continues the first N prompts with every model and reports
toxicity (mean ± std), distinct-n and perplexity — the figures detox-lab eval prints for the same prompts and seed —
with a CSV download. Ctrl-C closes the server (running generations finish) and exits 0; a second Ctrl-C exits 130.`,
    )
    .action(
      async (
        experiment: string | undefined,
        o: { model: string[]; run?: string; runsDir?: string; prompts?: string; port: string; host: string; log: boolean; set: string[] },
      ) => {
        const port = numberOption('--port', o.port, 0);
        if (port > 65535) throw new UserError(`--port: expected an integer from 0 to 65535, got ${JSON.stringify(o.port)}`);
        if (!['127.0.0.1', 'localhost', '::1'].includes(o.host)) {
          process.stderr.write(
            `warning: --host ${o.host} exposes the models and the runs folder to other machines; the server has no authentication\n`,
          );
        }
        const prepared = await prepareExperiment({ file: experiment, set: o.set, builtins: builtinPlugins });
        const { serveCommand } = await import('./serve-command.js');
        process.exitCode = await serveCommand(prepared, { ...o, port });
      },
    );

  program
    .command('inspect')
    .description('show what a Hugging Face model folder holds and computes (causal LM or RoBERTa classifier)')
    .argument('<model-dir>', 'folder with config.json + safetensors (+ tokenizer.json)')
    .option('--text <text>', 'greedy continuation (causal LM) or class probabilities (classifier)')
    .option('--input-ids <json>', "raw forward pass on ids, e.g. '[[464, 3290]]' (causal LM: position ids from the mask, as in generation)")
    .option('--attention-mask <json>', 'mask for --input-ids (default all ones)')
    .option('--max-new-tokens <n>', 'length of the greedy continuation', '20')
    .option('--json', 'print the raw outputs as JSON ({"logits": ...})', false)
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'),
    )
    .action(
      async (
        dir: string,
        o: { text?: string; inputIds?: string; attentionMask?: string; maxNewTokens: string; json: boolean; backend: 'wasm' },
      ) => {
        const n = numberOption('--max-new-tokens', o.maxNewTokens, 1);
        const { inspectCommand } = await import('./inspect-command.js');
        process.stdout.write(`${await inspectCommand(path.resolve(dir), { ...o, maxNewTokens: n })}\n`);
      },
    );

  program
    .command('pretrain')
    .description(
      'pretrain a small GPT-2 (byte-level BPE tokenizer + causal-LM training) and save it as a Hugging Face folder — how the embedded policy was made',
    )
    .requiredOption('-o, --out <dir>', 'output model folder (written atomically; TensorBoard logs in <dir>-tensorboard)')
    .option('--corpus <file>', 'UTF-8 text, one sentence per line (.gz allowed); repeatable', collect, [])
    .option('--builtin-corpus', "the embedded default's npm text (held-out prompts excluded)", false)
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
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'),
    )
    .addHelpText(
      'after',
      `
The embedded policy (models/tiny-gpt2) was made with:
  $ detox-lab pretrain --builtin-corpus --out models/tiny-gpt2 --steps 1200 --lr 2e-3`,
    )
    .action(async (o: Record<string, string | string[] | boolean>) => {
      const num = (flag: string, v: unknown, int = true) => numberOption(`--${flag}`, v, int ? 1 : Number.MIN_VALUE, int);
      const corpusFiles = o.corpus as string[];
      if (!corpusFiles.length && !o.builtinCorpus) throw new UserError('give --corpus <file> (repeatable) or --builtin-corpus');
      let lines: string[] | undefined;
      if (o.builtinCorpus) {
        const { loadBuiltinCorpus } = await import('./builtins.js');
        lines = loadBuiltinCorpus().pretrainText;
      }
      const { pretrainCommand } = await import('../pretrain/command.js');
      const interrupt = new Interrupt().install();
      try {
        const tf = await import('@tensorflow/tfjs');
        tf.env().set('PROD', true);
        await pretrainCommand({
          corpus: corpusFiles.map((f) => path.resolve(f)),
          lines,
          outDir: path.resolve(o.out as string),
          tokenizer: o.tokenizer as string | undefined,
          vocabSize: num('vocab-size', o.vocabSize),
          nLayers: num('layers', o.layers),
          dModel: num('d-model', o.dModel),
          nHeads: num('heads', o.heads),
          context: num('context', o.context),
          steps: num('steps', o.steps),
          batchSize: num('batch-size', o.batchSize),
          seqLen: num('seq-len', o.seqLen),
          learningRate: num('lr', o.lr, false),
          seed: Number(o.seed),
          backend: o.backend as 'wasm',
          signal: interrupt.signal,
        });
        if (interrupt.signal.aborted) process.exitCode = EXIT.interrupted;
      } finally {
        interrupt.uninstall();
      }
    });

  program
    .command('train-classifier')
    .description(
      'train a toxicity classifier (GPT2ForSequenceClassification, labels neutral/toxic) from a causal LM on labelled text, as a Hugging Face folder the hf-classifier reward model loads',
    )
    .requiredOption('-o, --out <dir>', 'output classifier folder (refused if it exists, unless --force)')
    .option(
      '--base <dir>',
      `causal LM folder the classifier starts from (its tokenizer is copied) (default: the project's ${CLASSIFIER_DEFAULTS.base})`,
    )
    .option(
      '--labels <dir>',
      `labelled data folder: Davidson tweets CSV + ToxiGen statements (see its README) (default: ${CLASSIFIER_DEFAULTS.labels} beside the project)`,
    )
    .option('--no-labels', 'do not read the labelled data folder (train on --data files only)')
    .option('--data <file.csv>', 'extra labelled CSV (labels 0/1 or neutral/toxic); repeatable', collect, [])
    .option('--text-column <name>', 'text column of the --data files', 'text')
    .option('--label-column <name>', 'label column of the --data files', 'label')
    .option(
      '--validation <fraction>',
      'share of each source held out for validation, chosen by text hash (ToxiGen keeps 0.3: it has only ~670 distinct statements)',
      String(CLASSIFIER_DEFAULTS.validation),
    )
    .option('--epochs <n>', 'most passes over the training texts', String(CLASSIFIER_DEFAULTS.epochs))
    .option('--batch-size <n>', 'texts per step', String(CLASSIFIER_DEFAULTS.batchSize))
    .option(
      '--max-length <n>',
      "tokens kept per text (longer texts are truncated; at most the base's n_positions)",
      String(CLASSIFIER_DEFAULTS.maxLength),
    )
    .option('--lr <x>', 'peak learning rate (AdamW, linear warm-up then cosine decay)', String(CLASSIFIER_DEFAULTS.learningRate))
    .option('--warmup <n>', 'warm-up steps', String(CLASSIFIER_DEFAULTS.warmupSteps))
    .option(
      '--eval-every <n>',
      'validate every n steps (and at each epoch end; 0 = epoch ends only)',
      String(CLASSIFIER_DEFAULTS.evalEvery),
    )
    .option('--patience <n>', 'stop after n validations without a better mean AUC (0 = never)', String(CLASSIFIER_DEFAULTS.patience))
    .addOption(
      new Option('--weighting <kind>', 'loss weights: class = both classes weigh the same within each source; none = plain cross-entropy')
        .choices(['class', 'none'])
        .default(CLASSIFIER_DEFAULTS.weighting),
    )
    .option(
      '--source-share <fraction>',
      'smaller sources are repeated to make up at least this share of an epoch (0 = no repetition)',
      String(CLASSIFIER_DEFAULTS.minSourceShare),
    )
    .option(
      '--freeze-embeddings',
      "keep the base's token and position embeddings (train the blocks and the head)",
      CLASSIFIER_DEFAULTS.freezeEmbeddings,
    )
    .option(
      '--ema <decay>',
      'validate and save a moving average of the weights with this decay per step (0 = off)',
      String(CLASSIFIER_DEFAULTS.ema),
    )
    .option('--seed <n>', 'seed of the score head and the data order', String(CLASSIFIER_DEFAULTS.seed))
    .option('--run-dir <dir>', 'TensorBoard events and checkpoints/best (default runs/train-classifier/<name of --out>; replaced each run)')
    .option('--force', 'replace an existing --out folder', false)
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'),
    )
    .addHelpText(
      'after',
      `
Example (how models/toxicity-gpt2 was made):
  $ detox-lab train-classifier --out models/toxicity-gpt2 --seed 0
  $ detox-lab train-classifier --out models/my-classifier --data my-labels.csv --text-column comment --label-column toxic

The output folder holds config.json (GPT2ForSequenceClassification, id2label {0: neutral, 1: toxic}, pad_token_id),
model.safetensors, tokenizer.json, tokenizer_config.json and train.json (settings, data counts and the validation
report: ROC AUC, accuracy and F1 per source, false-positive rate per ToxiGen group). Use it as the reward model with
  "reward": { "model": { "type": "hf-classifier", "path": "models/toxicity-gpt2", "neutralLabel": "neutral" } }
Ctrl-C stops after the current step and saves the best weights so far (exit 130).`,
    )
    .action(async (o: Record<string, string | string[] | boolean>) => {
      const num = (flag: string, v: unknown, min = 1) => numberOption(`--${flag}`, v, min);
      const fraction = (flag: string, v: unknown, lo: number, loOpen: boolean) => {
        const n = Number(v);
        if (!Number.isFinite(n) || (loOpen ? n <= lo : n < lo) || n >= 1) {
          throw new UserError(`--${flag}: expected a fraction in ${loOpen ? '(' : '['}${lo}, 1), got ${JSON.stringify(v)}`);
        }
        return n;
      };
      const lr = Number(o.lr);
      if (!Number.isFinite(lr) || lr <= 0) throw new UserError(`--lr: expected a number > 0, got ${JSON.stringify(o.lr)}`);
      const out = path.resolve(o.out as string);
      const opts = {
        outDir: out,
        base: o.base as string | undefined,
        labels: o.labels === false ? null : typeof o.labels === 'string' ? path.resolve(o.labels) : undefined,
        data: (o.data as string[]).map((f) => ({
          file: path.resolve(f),
          textColumn: o.textColumn as string,
          labelColumn: o.labelColumn as string,
        })),
        validation: fraction('validation', o.validation, 0, true),
        epochs: num('epochs', o.epochs),
        batchSize: num('batch-size', o.batchSize),
        maxLength: num('max-length', o.maxLength),
        learningRate: lr,
        warmupSteps: num('warmup', o.warmup, 0),
        evalEvery: num('eval-every', o.evalEvery, 0),
        patience: num('patience', o.patience, 0),
        weighting: o.weighting as 'class' | 'none',
        minSourceShare: fraction('source-share', o.sourceShare, 0, false),
        freezeEmbeddings: o.freezeEmbeddings as boolean,
        ema: fraction('ema', o.ema, 0, false),
        seed: num('seed', o.seed, 0),
        runDir: o.runDir as string | undefined,
        force: o.force as boolean,
        backend: o.backend as 'wasm',
      };
      if (o.labels === false && opts.data.length === 0) throw new UserError('--no-labels: give at least one --data <file.csv> to train on');
      const { checkOutDir, trainClassifierCommand } = await import('../classifier/command.js');
      checkOutDir(out, opts.force);
      const interrupt = new Interrupt().install();
      try {
        const tf = await import('@tensorflow/tfjs');
        tf.env().set('PROD', true);
        const command = `detox-lab ${process.argv.slice(2).join(' ')}`;
        const result = await trainClassifierCommand({ ...opts, signal: interrupt.signal, command });
        if (result.status === 'interrupted') process.exitCode = EXIT.interrupted;
      } finally {
        interrupt.uninstall();
      }
    });

  program
    .command('plan')
    .description(
      'estimate the memory of an experiment (policy, reference, value head, optimiser, activations) and which memory strategies make it fit',
    )
    .argument('[experiment]', "experiment JSON file (default: search .detoxrc.json); only the policy's config.json is read")
    .option('--budget <bytes>', 'memory budget, e.g. 4GiB, 512MiB, 2GB')
    .option('-s, --set <path=value>', 'override a config value; repeatable', collect, [])
    .action(async (experiment: string | undefined, o: { budget?: string; set: string[] }) => {
      const { planCommand } = await import('./plan-command.js');
      process.stdout.write(`${await planCommand(experiment, o)}\n`);
    });

  program
    .command('eval-classifier')
    .description(
      'how well toxicity classifiers separate toxic from neutral labelled text: ROC AUC, accuracy and F1 per source, and false positives per ToxiGen target group, in one table',
    )
    .argument(
      '<classifier...>',
      'a Hugging Face classifier folder, a reward-model plugin name (lexicon-toxicity), or a JSON slot \'{"type": ..., options}\'',
    )
    .option(
      '--labels <dir>',
      'labelled data folder (davidson-labeled_data.csv, toxigen-prompts/); default: ../shared/data/toxicity-labels beside the checkout, when present',
    )
    .option('--data <file>', 'your labelled CSV (or .tsv), with --text-column and --label-column')
    .option('--text-column <name>', 'the CSV column holding the text')
    .option('--label-column <name>', 'the CSV column holding the label: 1/0, toxic/neutral, true/false, hate/nothate')
    .addOption(
      new Option(
        '--split <which>',
        'which texts to score: the held-out validation split (by text hash, as train-classifier splits), the training split, or all',
      )
        .choices(['validation', 'train', 'all'])
        .default('validation'),
    )
    .option('--validation <fraction>', 'validation share of each source (ToxiGen keeps 0.3: it has only ~670 distinct statements)', '0.1')
    .option('--batch-size <n>', 'texts per classifier call', '64')
    .option('--plugin <module>', 'a module with your reward-model plugins (path or package); repeatable', collect, [])
    .option('--json <file>', 'also write the reports as JSON')
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('wasm'),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ detox-lab eval-classifier models/toxicity-gpt2 lexicon-toxicity
  $ detox-lab eval-classifier models/toxicity-gpt2 --data mine.csv --text-column comment --label-column toxic --split all
  $ detox-lab eval-classifier '{"type": "lexicon-toxicity", "useObscenity": false}' --json lexicon.json`,
    )
    .action(
      async (
        specs: string[],
        o: {
          labels?: string;
          data?: string;
          textColumn?: string;
          labelColumn?: string;
          split: 'validation';
          validation: string;
          batchSize: string;
          plugin: string[];
          json?: string;
          backend: 'wasm';
        },
      ) => {
        const validation = Number(o.validation);
        if (!(validation > 0 && validation < 1))
          throw new UserError(`--validation: expected a fraction between 0 and 1 (exclusive), got ${JSON.stringify(o.validation)}`);
        const registry = new PluginRegistry(builtinPlugins);
        for (const spec of o.plugin) {
          try {
            await registry.loadModules([spec], process.cwd());
          } catch (err) {
            throw new UserError(`--plugin ${spec}: ${(err as Error).message}`);
          }
        }
        const { evalClassifierCommand } = await import('./eval-classifier-command.js');
        const interrupt = new Interrupt().install();
        try {
          process.stdout.write(
            `${await evalClassifierCommand(specs, registry, {
              ...o,
              validation,
              batchSize: numberOption('--batch-size', o.batchSize, 1),
              signal: interrupt.signal,
            })}\n`,
          );
        } finally {
          interrupt.uninstall();
        }
      },
    );

  addQueueCommands(program, builtinPlugins);
  return program;
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
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // --help/--version exit 0; usage errors 2
    }
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${err.issues.map((i) => `config error: ${(i.source ?? err.source) ? `${i.source ?? err.source}: ` : ''}${i.path}: ${i.message}`).join('\n')}\n`,
      );
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
    if (err instanceof InputError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    // Runtime failures: the message, and the stack only when asked for (DETOX_LAB_DEBUG=1).
    const e = err as Error;
    process.stderr.write(`error: ${process.env.DETOX_LAB_DEBUG ? (e?.stack ?? String(err)) : (e?.message ?? String(err))}\n`);
    return EXIT.failure;
  }
}
