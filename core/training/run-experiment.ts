import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { TOKENS } from '../tokens.js';
import { buildContainer } from '../di/container.js';
import type { PreparedExperiment } from '../config/prepare.js';
import { initBackend, type BackendInfo } from '../model/wasm/backend.js';
import { Trainer, type EvalFigures, type TrainOutcome } from './trainer.js';
import { resolveWorkers } from '../parallel/parallel-compute.js';
import { Interrupt } from '../util/interrupt.js';
import { EXIT, UserError } from '../exit.js';
import { writeResolvedConfig } from '../config/prepare.js';
import { asRecordedToday } from '../config/validate.js';
import { armChannelHooks } from './arm-channel.js';
import { pickCheckpoint, readTrainerState, removeCheckpointLeftovers } from './checkpoint.js';
import {
  acquireRunLock,
  assertNotInUse,
  diffPaths,
  folderUsed,
  moveAside,
  RESUMABLE_SETTINGS,
  RunFolderError,
  truncateRunOutputs,
  type RunLock,
} from './run-folder.js';

/** How {@link runExperiment} treats the run folder. */
interface RunFolderOptions {
  /** Continue from the folder's newest complete checkpoint (from step 0 when it has none). */
  resume?: boolean;
  /** A used folder is moved aside (`<arm>.old-<time>`) once everything is built, then the run starts fresh. */
  moveAside?: boolean;
  out?: NodeJS.WriteStream;
}

/** What `summary.json` holds: the run's outcome and its final figures. */
interface RunSummary extends TrainOutcome {
  experiment: string;
  arm: string;
  runDir: string;
  backend: string;
  /** Data-parallel threads the run used (config `workers` resolved). */
  workers: number;
  peakRssBytes: number;
  finishedAt: string;
}

/**
 * `detox-lab run`: checks the run folder (not in use; on resume, a complete checkpoint trained with this config),
 * builds the plugins from the validated config, and only then takes the folder (lock, moving a used one aside when
 * asked, cutting a resumed run's outputs back to its checkpoint). Then trains, evaluates, and writes summary.json.
 * Returns the exit code (0 done, 1 failed, 130 interrupted after saving); problems found before any work throw
 * {@link UserError} (exit 2) with the folder untouched.
 */
export async function runExperiment(prepared: PreparedExperiment, runDir: string, opts: RunFolderOptions = {}): Promise<number> {
  const channel = armChannelHooks(); // first: an arm run for a queue worker stops as soon as the worker is gone
  const cfg = prepared.config;
  const out = opts.out ?? process.stderr;
  const log = (m: string) => out.write(`${m}\n`);
  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  tf.env().set('PROD', true); // no console banners from TensorFlow.js; errors still throw
  try {
    assertNotInUse(runDir);
  } catch (err) {
    if (err instanceof RunFolderError) throw new UserError(err.message, EXIT.usage);
    throw err;
  }
  let resumeFrom: string | null = null;
  let resumeStep = 0;
  if (opts.resume) {
    const pick = pickCheckpoint(runDir);
    const skipped = pick.skipped.map((s) => `${rel(s.dir)}: ${s.problem}`).join('; ');
    if (!pick.dir && pick.skipped.length) {
      throw new UserError(
        `--resume ${rel(runDir)}: no complete checkpoint to continue from (incomplete: ${skipped}); ` +
          '--fresh starts the experiment over',
        EXIT.usage,
      );
    }
    if (pick.skipped.length) log(`resume: skipped incomplete checkpoint${pick.skipped.length > 1 ? 's' : ''} ${skipped}`);
    if (pick.dir) {
      // Read with today's schema: a checkpoint written before a defaulted field existed was trained with its default.
      const state = readTrainerState(pick.dir).config;
      const trainedWith = state === undefined ? undefined : asRecordedToday(state, prepared.registry);
      const changed =
        trainedWith === undefined ? [] : diffPaths(trainedWith, JSON.parse(JSON.stringify(cfg)) as unknown, '', 5, [], RESUMABLE_SETTINGS);
      if (changed.length) {
        throw new UserError(
          `--resume ${rel(runDir)}: the config differs from the one ${rel(pick.dir)} was trained with ` +
            `(${changed.join('; ')}); only ${RESUMABLE_SETTINGS.join(', ')} may change on resume — start a new experiment instead`,
          EXIT.usage,
        );
      }
    } else {
      log('resume: no checkpoint in this run folder yet; starting from step 0');
    }
    resumeFrom = pick.dir;
    resumeStep = pick.step;
  }
  const workers = resolveWorkers(cfg.workers, cfg.backend);
  let backendInfo: BackendInfo;
  try {
    // With data-parallel workers, each thread's native matmul takes its share of the cores (core/parallel).
    backendInfo = await initBackend(cfg.backend, { matmul: cfg.matmul, workers });
  } catch (err) {
    throw new UserError(`backend: ${(err as Error).message}`, EXIT.usage);
  }
  const arm = path.basename(runDir);
  const container = await buildContainer(cfg, prepared.registry, { runDir, configDir: prepared.raw.baseDir, log, out });
  container.bind(TOKENS.Trainer).to(Trainer).inSingletonScope();
  log(
    `detox-lab: experiment "${cfg.experiment}" arm "${arm}" → ${path.relative(process.cwd(), runDir) || runDir} (backend ${cfg.backend}${backendInfo.matmulDescription ? `, matmul ${backendInfo.matmulDescription}` : ''})`,
  );
  let trainer: Trainer;
  try {
    trainer = await container.getAsync<Trainer>(TOKENS.Trainer);
  } catch (err) {
    // A plugin could not be built from its (valid) options: a missing file, a label that is not there...
    throw new UserError(`cannot build the experiment: ${(err as Error).message}`, EXIT.usage);
  }

  // Everything is built: take the folder.
  let lock: RunLock;
  try {
    if (opts.moveAside && folderUsed(runDir)) {
      assertNotInUse(runDir);
      log(`previous run moved to ${rel(moveAside(runDir))}`);
    }
    lock = acquireRunLock(runDir, log);
  } catch (err) {
    for (const p of container.getAll<{ dispose?: () => void }>(TOKENS.Policy)) p.dispose?.();
    if (err instanceof RunFolderError) throw new UserError(err.message, EXIT.usage);
    throw err;
  }
  try {
    return await trainInFolder();
  } finally {
    lock.release();
  }

  async function trainInFolder(): Promise<number> {
    const leftovers = removeCheckpointLeftovers(runDir);
    if (leftovers.length) log(`removed unfinished checkpoint writes: ${leftovers.join(', ')}`);
    if (folderUsed(runDir)) {
      const cut = truncateRunOutputs(runDir, resumeStep);
      if (cut.samples || cut.events)
        log(
          `cut the run's outputs back to step ${resumeStep}: ${cut.samples} sample lines, ${cut.events} TensorBoard events after it removed`,
        );
    }
    writeResolvedConfig(runDir, prepared);
    // The output hooks (TensorBoard, samples.jsonl, the console) are `hook` plugins of the config's effective `hooks`
    // list, built by the container and run by the trainer; the queue's arm channel is plumbing, passed here.
    const interrupt = new Interrupt().install();
    const forget = interrupt.onForcedExit(() => trainer.forcedExit());
    let peakRss = process.memoryUsage().rss;
    const rssTimer = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 500).unref();
    let outcome: TrainOutcome;
    try {
      outcome = await trainer.train({
        hooks: channel,
        signal: interrupt.signal,
        resumeFrom,
        sinks: { log },
      });
    } finally {
      clearInterval(rssTimer);
      forget();
      interrupt.uninstall();
    }
    const summary: RunSummary = {
      experiment: cfg.experiment,
      arm,
      runDir,
      backend: cfg.backend,
      workers,
      ...outcome,
      peakRssBytes: Math.max(peakRss, process.memoryUsage().rss),
      finishedAt: new Date().toISOString(),
    };
    const file = path.join(runDir, 'summary.json');
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
    if (outcome.evalBefore || outcome.evalAfter) process.stdout.write(`\n${resultsTable(outcome.evalBefore, outcome.evalAfter)}\n`);
    log(
      `${outcome.status}: ${outcome.step}/${outcome.totalSteps} steps in ${(outcome.elapsedMs / 1000).toFixed(1)} s; ` +
        `summary ${path.relative(process.cwd(), file)}${outcome.checkpoint ? `, checkpoint ${path.relative(process.cwd(), outcome.checkpoint)}` : ''}` +
        (outcome.status === 'interrupted' ? `; continue with: detox-lab run --resume ${path.relative(process.cwd(), runDir)}` : ''),
    );
    for (const p of container.getAll<{ dispose?: () => void }>(TOKENS.Policy)) p.dispose?.();
    for (const c of container.isBound(TOKENS.EvalClassifier) ? container.getAll<{ dispose?: () => void }>(TOKENS.EvalClassifier) : [])
      c.dispose?.();
    if (outcome.status === 'failed') {
      log(`error: ${outcome.error}`);
      return EXIT.failure;
    }
    return outcome.status === 'interrupted' ? EXIT.interrupted : EXIT.ok;
  }
}

/** The study's table: toxicity mean ± std before and after, plus diversity and fluency, with relative change. */
function resultsTable(before?: EvalFigures, after?: EvalFigures): string {
  const cross = (after ?? before)!.crossCheck ?? [];
  const crossOf = (e: EvalFigures, k: number) => e.crossCheck?.[k]?.toxicity ?? { mean: NaN, std: NaN };
  const rows: [string, (e: EvalFigures) => number, ((e: EvalFigures) => number)?][] = [
    ['toxicity (mean)', (e) => e.toxicity.mean, (e) => e.toxicity.std],
    ...cross.map((c, k): [string, (e: EvalFigures) => number, (e: EvalFigures) => number] => [
      `toxicity by ${c.classifier} (cross-check)`,
      (e) => crossOf(e, k).mean,
      (e) => crossOf(e, k).std,
    ]),
    ['distinct-1', (e) => e.distinct1],
    ['distinct-2', (e) => e.distinct2],
    ['distinct-3', (e) => e.distinct3],
    ['perplexity (under the initial model)', (e) => e.perplexity],
  ];
  const cell = (e: EvalFigures | undefined, f: (e: EvalFigures) => number, g?: (e: EvalFigures) => number) =>
    e ? `${f(e).toFixed(4)}${g ? ` ± ${g(e).toFixed(4)}` : ''}` : '—';
  const lines = [
    `| metric | before | after | change |`,
    `|---|---|---|---|`,
    ...rows.map(([name, f, g]) => {
      const change = before && after ? `${(((f(after) - f(before)) / f(before)) * 100).toFixed(1)}%` : '—';
      return `| ${name} | ${cell(before, f, g)} | ${cell(after, f, g)} | ${change} |`;
    }),
  ];
  const n = (after ?? before)!.toxicity.n;
  return `${lines.join('\n')}\n(${n} continuations of held-out toxic prompts; toxicity = P(toxic) of the continuation by the reward model${cross.length ? ' and by each cross-check classifier (eval.classifiers)' : ''}; std is the population std)`;
}
