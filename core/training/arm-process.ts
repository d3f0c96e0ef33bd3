/**
 * `detox-lab run <grid experiment>`: runs every arm of an ablation grid (core/config/ablate.ts), each in its own child
 * process (`detox-lab run --resume <arm-folder>`), up to `parallel` at a time. A crashing arm cannot take the driver
 * down: it is reported and the others go on.
 *
 * Re-running the same grid: an arm whose summary.json says "done" is skipped; one with a checkpoint resumes from it;
 * one with results but no checkpoint starts again in place. An arm folder whose recorded config differs from the arm's
 * config now, or that a live process owns, refuses the whole grid before anything starts (exit 2). `--fresh` moves
 * every used arm folder aside (`<arm>.old-<time>`; at most one earlier copy unless `--keep-old`) and starts all arms.
 *
 * Ctrl-C (SIGINT/SIGTERM): no new arm starts; the signal is forwarded once to each running arm (children run in their
 * own process group, so the terminal's Ctrl-C reaches them only through the driver), which stops after its current
 * step, saves and exits with 130. A second Ctrl-C is forwarded too (the arms quit at once).
 */
import { GRID_PARALLEL_ENV } from '../util/cores.js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AblationPlan, PlannedArm } from '../config/ablate.js';
import { missingPaths, writeResolvedConfig } from '../config/prepare.js';
import type { Json } from '../config/merge.js';
import { markdownTable } from '../compare/markdown.js';
import { assertNotInUse, decideFolder, moveAside, moveAsideRefusal, readJson } from './run-folder.js';
import { EXIT } from '../exit.js';

/** The CLI entry the arms run with. */
export const CLI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/detox-lab.js');

/** What happens to one arm's folder before the grid runs. */
interface ArmDecision {
  action: 'skip' | 'resume' | 'start' | 'refuse';
  /** Why the arm cannot run (set only when refused). */
  reason?: string;
  /** Why the previous content of the folder is moved aside (set only when it is). */
  moveAside?: string;
  /** The checkpoint step a resumed arm continues from. */
  resumeStep?: number;
}

/** How one arm ended. */
export interface ArmResult {
  name: string;
  status: 'done' | 'skipped' | 'failed' | 'interrupted' | 'not started';
  /** Exit code of the arm's process (null when it did not run, or died by a signal). */
  code: number | null;
  /** Wall time of the arm's process in this invocation, ms (0 when it did not run). */
  wallMs: number;
  note?: string;
}

/**
 * Decides, without touching anything, what a (re-)run does with an arm's folder (see {@link decideFolder}): a folder
 * owned by a live process, or holding a run with another config, is refused; `--fresh` moves a used folder aside
 * only when no earlier copy is there (or `keepOld`).
 */
export function inspectArm(arm: PlannedArm, fresh: boolean, keepOld = false): ArmDecision {
  try {
    assertNotInUse(arm.runDir);
  } catch (err) {
    return { action: 'refuse', reason: (err as Error).message };
  }
  const d = decideFolder(arm.runDir, arm.prepared.config, fresh, arm.prepared.registry);
  if (d.action === 'refuse') return { action: 'refuse', reason: d.reason };
  if (d.action === 'resume') return { action: 'resume', resumeStep: d.step };
  if (d.action === 'skip') return { action: 'skip' };
  if (d.moveAside) {
    const refusal = moveAsideRefusal(arm.runDir, keepOld);
    if (refusal) return { action: 'refuse', reason: refusal };
    return { action: 'start', moveAside: d.moveAside };
  }
  return { action: 'start' };
}

/** Writes the arm's resolved-config.json (for a start or resume) and arm.json (its name, exact settings, and place in the grid). */
export function prepareFolder(arm: PlannedArm, decision: ArmDecision, plan: AblationPlan): void {
  recordArmConfig(arm.runDir, arm.prepared, decision);
  const settings = Object.fromEntries(arm.settings.map((s) => [s.path, s.value]));
  const grid = Object.fromEntries(plan.axes.map((a) => [a.path, a.values]));
  writeArmJson(arm.runDir, { arm: arm.name, index: plan.arms.indexOf(arm), experiment: plan.experiment, settings, mode: plan.mode, grid });
}

/**
 * Writes the resolved-config.json an arm's process runs with (`run --resume <folder>`), for a start or a resume: a
 * resumed arm's config may differ from the recorded one in the settings that keep it the same run (train.steps).
 */
export function recordArmConfig(runDir: string, prepared: PlannedArm['prepared'], decision: ArmDecision): void {
  if (decision.action === 'start' || decision.action === 'resume') writeResolvedConfig(runDir, prepared);
}

/** What arm.json holds: the arm's name, exact settings, and place in its grid. */
interface ArmJson {
  arm: string;
  index: number;
  experiment: string;
  settings: Record<string, Json>;
  mode: string;
  grid: Record<string, Json[]>;
}

/** Writes a run folder's arm.json. */
export function writeArmJson(runDir: string, body: ArmJson): void {
  fs.writeFileSync(path.join(runDir, 'arm.json'), `${JSON.stringify(body, null, 2)}\n`);
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;
const settingsText = (arm: PlannedArm) => arm.settings.map((s) => `${s.path}=${JSON.stringify(s.value)}`).join(', ');

/** The final per-arm status table. */
export function statusTable(results: readonly ArmResult[]): string {
  return markdownTable(
    ['arm', 'status', 'exit', 'wall time', 'note'],
    results.map((r) => [
      r.name,
      r.status,
      r.code === null ? '—' : String(r.code),
      r.wallMs ? `${(r.wallMs / 1000).toFixed(1)} s` : '—',
      r.note ?? '',
    ]),
  );
}

/** The exit code of a whole grid: 130 if interrupted, 1 if any arm failed, else 0. */
export function gridExitCode(results: readonly ArmResult[]): number {
  if (results.some((r) => r.status === 'interrupted' || r.status === 'not started')) return EXIT.interrupted;
  if (results.some((r) => r.status === 'failed')) return EXIT.failure;
  return EXIT.ok;
}

/** Options of {@link runGrid}. */
interface GridRunOptions {
  /** Arms run at once (each a child process); default 1. */
  parallel?: number;
  /** Start every arm again (used folders are moved aside). */
  fresh?: boolean;
  /** With `fresh`: keep every earlier copy of an arm folder (otherwise an existing `<arm>.old-*` refuses the grid). */
  keepOld?: boolean;
  /** Print the plan (what each arm would do) and stop; nothing is written. */
  dryRun?: boolean;
  /** Where the arms' stdout lines and the final table go (default process.stdout). */
  out?: NodeJS.WritableStream;
  /** Where the arms' stderr lines and the driver's messages go (default process.stderr). */
  err?: NodeJS.WritableStream;
  /** The CLI script the arms run (default bin/detox-lab.js of this package). */
  cli?: string;
}

/** Runs (or, with dryRun, plans) every arm of a validated grid; returns the exit code. */
export async function runGrid(plan: AblationPlan, opts: GridRunOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const parallel = Math.max(1, Math.floor(opts.parallel ?? 1));
  const decisions = plan.arms.map((arm) => ({ arm, decision: inspectArm(arm, Boolean(opts.fresh), Boolean(opts.keepOld)) }));
  const shape = plan.axes.map((a) => `${a.path} ×${a.values.length}`).join(plan.mode === 'zip' ? ' zip ' : ', ');
  err.write(
    `grid "${plan.experiment}" from ${plan.source}: ${plan.arms.length} arm${plan.arms.length > 1 ? 's' : ''} (${plan.mode}: ${shape}) → ${rel(plan.experimentDir)}\n`,
  );

  const describe = (d: ArmDecision) =>
    d.action === 'refuse'
      ? `refuse: ${d.reason}`
      : d.action === 'skip'
        ? 'skip (finished before)'
        : d.action === 'resume'
          ? `resume from step ${d.resumeStep}`
          : d.moveAside
            ? `start again, moving the previous run aside (${d.moveAside})`
            : 'start';
  if (opts.dryRun) {
    const missing = plan.arms.flatMap((arm) => missingPaths(arm.prepared).map((i) => `[${arm.name}] ${i.path}: ${i.message}`));
    if (missing.length) {
      for (const m of missing) err.write(`config error: ${m}\n`);
      return EXIT.usage;
    }
    out.write(
      `${markdownTable(
        ['arm', 'settings', 'would', 'folder'],
        decisions.map(({ arm, decision }) => [arm.name, settingsText(arm), describe(decision), rel(arm.runDir)]),
      )}\n`,
    );
    err.write(`config is valid for every arm; nothing was run or written (drop --dry-run to run)\n`);
    return EXIT.ok;
  }
  const refused = decisions.filter(({ decision }) => decision.action === 'refuse');
  if (refused.length) {
    for (const { arm, decision } of refused) err.write(`error: [${arm.name}] ${decision.reason}\n`);
    err.write(`nothing was started: ${refused.length} arm${refused.length > 1 ? 's' : ''} cannot run as asked\n`);
    return EXIT.usage;
  }

  const results = new Map<string, ArmResult>();
  const queue: PlannedArm[] = [];
  for (const { arm, decision } of decisions) {
    if (decision.action === 'skip') {
      err.write(`[${arm.name}] finished before: skipped (--fresh runs it again)\n`);
      results.set(arm.name, { name: arm.name, status: 'skipped', code: null, wallMs: 0, note: 'finished before' });
      continue;
    }
    if (decision.moveAside) err.write(`[${arm.name}] previous run moved to ${rel(moveAside(arm.runDir))} (${decision.moveAside})\n`);
    prepareFolder(arm, decision, plan);
    queue.push(arm);
  }
  if (queue.length) err.write(`running ${queue.length} arm${queue.length > 1 ? 's' : ''}, ${Math.min(parallel, queue.length)} at a time\n`);

  const running = new Map<string, ChildProcess>();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    err.write(
      signals === 1
        ? `\n${sig}: no new arm starts; running arms stop after their current step and save (press Ctrl-C again to quit now)\n`
        : `${sig}: asking running arms to quit now\n`,
    );
    for (const child of running.values()) {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  };
  const onExit = () => {
    for (const child of running.values()) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  const t0 = Date.now();
  const sideBySide = Math.max(1, Math.min(parallel, queue.length)); // arms sharing the machine at once
  try {
    await new Promise<void>((resolve) => {
      const launchNext = () => {
        while (running.size < parallel && queue.length && signals === 0) {
          const arm = queue.shift()!;
          running.set(
            arm.name,
            startArmProcess(
              {
                label: arm.name,
                runDir: arm.runDir,
                cli: opts.cli ?? CLI_PATH,
                out,
                err,
                what: settingsText(arm),
                // The arms share the cores: `workers: "auto"` and BLAS threads take this process's share (core/util/cores.ts).
                env: { [GRID_PARALLEL_ENV]: String(sideBySide) },
              },
              (r) => {
                running.delete(arm.name);
                results.set(arm.name, r);
                launchNext();
              },
            ),
          );
        }
        if (running.size === 0) resolve();
      };
      launchNext();
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
  for (const arm of queue)
    results.set(arm.name, { name: arm.name, status: 'not started', code: null, wallMs: 0, note: 'interrupted before it started' });

  const ordered = plan.arms.map((a) => results.get(a.name)!);
  out.write(`\n${statusTable(ordered)}\n`);
  const code = gridExitCode(ordered);
  err.write(
    `grid "${plan.experiment}": ${ordered.filter((r) => r.status === 'done').length} done, ${ordered.filter((r) => r.status === 'skipped').length} skipped, ` +
      `${ordered.filter((r) => r.status === 'failed').length} failed, ${ordered.filter((r) => r.status === 'interrupted' || r.status === 'not started').length} stopped ` +
      `in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
      (code === EXIT.ok
        ? `compare them: detox-lab compare ${rel(plan.experimentDir)}\n`
        : `run the same command again to resume the stopped and failed arms\n`),
  );
  return code;
}

/** How {@link startArmProcess} runs one arm. */
interface ArmProcessOptions {
  /** The arm's name in messages and the `[label]` prefix of its lines. */
  label: string;
  /** The prepared run folder (resolved-config.json written): the arm runs as `run --resume <runDir>`. */
  runDir: string;
  cli: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Added to this process's environment. */
  env: Record<string, string>;
  /** Said on the "started" line after the pid. */
  what: string;
  /** Messages the arm sends; given, the arm gets an IPC channel. */
  onMessage?: (message: unknown) => void;
}

/** Starts one arm's process, streams its lines with an `[arm]` prefix, and reports how it ended. */
export function startArmProcess(o: ArmProcessOptions, done: (r: ArmResult) => void): ChildProcess {
  const { label, runDir, out, err } = o;
  const started = Date.now();
  const child = spawn(process.execPath, [o.cli, 'run', '--resume', runDir], {
    cwd: process.cwd(),
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe', ...(o.onMessage ? ['ipc' as const] : [])],
    // Its own process group: the terminal's Ctrl-C reaches the arm only once, forwarded by the driver.
    detached: process.platform !== 'win32',
  });
  if (o.onMessage) child.on('message', o.onMessage);
  err.write(`[${label}] started (pid ${child.pid}): ${o.what}\n`);
  let lastError: string | undefined;
  const pipe = (stream: NodeJS.ReadableStream | null, to: NodeJS.WritableStream, isErr: boolean) => {
    if (!stream) return Promise.resolve();
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (isErr && /^(config )?error: /.test(line)) lastError = line;
      to.write(`[${label}] ${line}\n`);
    });
    return new Promise<void>((resolve) => rl.once('close', () => resolve()));
  };
  const streams = Promise.all([pipe(child.stdout, out, false), pipe(child.stderr, err, true)]);
  let reported = false;
  const report = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
    if (reported) return;
    reported = true;
    void streams.then(() => {
      const wallMs = Date.now() - started;
      const summary = readJson(path.join(runDir, 'summary.json')) as
        { status?: string; error?: string; step?: number; totalSteps?: number } | undefined;
      let status: ArmResult['status'];
      if (spawnError) status = 'failed';
      else if (code === EXIT.ok) status = 'done';
      else if (code === EXIT.interrupted) status = 'interrupted';
      else status = 'failed';
      const note = spawnError
        ? `could not start: ${spawnError.message}`
        : signal
          ? `killed by ${signal}`
          : status === 'done'
            ? `${summary?.step ?? '?'} steps`
            : status === 'interrupted'
              ? `stopped at step ${summary?.step ?? '?'} of ${summary?.totalSteps ?? '?'}; saved`
              : (summary?.error ?? lastError ?? `exit code ${code}`);
      err.write(`[${label}] ${status} in ${(wallMs / 1000).toFixed(1)} s${status === 'done' ? '' : `: ${note}`}\n`);
      done({ name: label, status, code: spawnError ? null : code, wallMs, note });
    });
  };
  child.once('error', (e) => report(null, null, e));
  child.once('close', (code, signal) => report(code, signal));
  return child;
}
