/**
 * `detox-lab worker --queue redis://...`: takes arm jobs from the queue and runs each exactly as a local grid run
 * does — a child process `detox-lab run --resume <arm folder>` — in `<runs dir>/<experiment>/<arm>`.
 *
 * Delivery is at least once, and that is safe because an arm's folder tells what is left to do:
 *   - a finished arm (summary.json "done", same config) is not run again: its job completes at once;
 *   - an arm with a checkpoint resumes from it (a worker killed mid-arm loses at most the steps since then);
 *   - an arm that stopped before its first checkpoint is moved aside (`<arm>.old-<time>`) and starts again.
 * A job whose config differs from the experiment file in this worker's checkout (edited since it was enqueued, or
 * another version of detox-lab with other defaults), or whose folder holds a run of another config, is refused.
 *
 * Locks: the worker renews its jobs' locks every lock-timeout / 4; a worker that stops renewing (killed, frozen,
 * cut off from Redis) loses the job after the lock timeout and another worker's stalled-job check puts it back in
 * the queue. The arm process stops at once when its worker is gone (core/training/arm-channel.ts), and a worker that
 * learns it lost a lock kills that arm, so a folder has one writer.
 *
 * Ctrl-C: no new arm starts; running arms stop after their current step and save, and their jobs go back to the
 * queue (not counted as a failed attempt), so any worker resumes them. A second Ctrl-C makes the arms quit at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { CLI_PATH, inspectArm, recordArmConfig, startArmProcess, writeArmJson, type ArmResult } from '../training/arm-process.js';
import { assertNotInUse, diffPaths, LOCK_FILE, lockState } from '../training/run-folder.js';
import { EXIT } from '../exit.js';
import { projectRoot } from '../config/load.js';
import { ConfigError } from '../config/prepare.js';
import type { AnyPluginDefinition } from '../plugin/define.js';
import { GRID_PARALLEL_ENV } from '../util/cores.js';
import { ARM_CHANNEL_ENV, type ArmMessage } from '../training/arm-channel.js';
import { checkReachable, QUEUE_NAME, QUEUE_PREFIX, redisOptions, type QueueAddress } from './connection.js';
import { UNFINISHED } from './enqueue.js';
import { armConfig, configHash, resolveArmHere, type ArmJobData, type ArmJobResult, type ArmProgress, type GridJobData } from './jobs.js';

/** Redis set of arm job ids `detox-lab queue cancel` asks the workers to stop. */
export const CANCEL_KEY = `${QUEUE_PREFIX}:${QUEUE_NAME}:cancel`;
/** How often a job that stalls (its worker vanished) goes back to the queue before it is failed. */
const MAX_STALLS = 5;

/** Options of {@link runWorker}. */
interface WorkerOptions {
  address: QueueAddress;
  /** Arms run at once (each a child process). */
  concurrency: number;
  /** `<runsDir>/<experiment>/<arm>` for every arm (absolute); default: each config's runsDir in this project. */
  runsDir?: string;
  /** How long a job's lock lasts without renewal, ms. */
  lockMs: number;
  /** Stop (exit 0) once the queue holds no unfinished job. */
  untilEmpty?: boolean;
  builtins: readonly AnyPluginDefinition[];
  cli?: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

interface Running {
  job: Job;
  child?: ChildProcess;
  cancelled: boolean;
  lockLost: boolean;
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;
const errorText = (e: unknown) =>
  e instanceof ConfigError ? e.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : (e as Error).message;

/** Runs the worker until it is stopped (Ctrl-C) or, with `untilEmpty`, the queue is done; returns the exit code. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  await checkReachable(opts.address);
  const projectDir = projectRoot(process.cwd());
  const me = `${os.hostname()}:${process.pid}`;
  const connection = redisOptions(opts.address);
  const running = new Map<string, Running>();
  let signals = 0;
  const side = new Redis(connection);
  side.on('error', () => {
    /* the worker's own 'error' reports Redis problems */
  });

  const runArm = async (job: Job<ArmJobData>, token?: string): Promise<ArmJobResult> => {
    const d = job.data;
    const label = `${d.experiment}/${d.arm}`;
    const attempt = `attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1}`;
    if (configHash(d.config) !== d.hash) {
      throw new UnrecoverableError(
        `refused: the job's config does not match its sha256 (the job data was altered); enqueue the grid again`,
      );
    }
    let here;
    try {
      here = await resolveArmHere(d, projectDir, opts.builtins);
    } catch (e) {
      throw new UnrecoverableError(`refused: cannot resolve the arm in this worker's project ${projectDir}: ${errorText(e)}`);
    }
    const now = armConfig(here.prepared);
    if (configHash(now) !== d.hash) {
      throw new UnrecoverableError(
        `refused: the arm's config changed since it was enqueued (${diffPaths(d.config, now).join('; ')}), ` +
          `in ${d.source} or its imports, or a detox-lab version with other defaults; enqueue the grid again to run the new config`,
      );
    }
    const runDir = opts.runsDir ? path.join(opts.runsDir, d.experiment, d.arm) : here.runDir;
    const arm = { ...here, runDir };
    // The queue gave this arm to this worker, so a worker that held it before is gone (its arm stops with it): a lock
    // it left from another host (a shared runs folder) is taken over; one held by a live process here is waited for.
    const lock = lockState(runDir);
    if (lock && !lock.stale && lock.owner.host !== os.hostname()) {
      err.write(
        `[${label}] taking over ${rel(runDir)} from pid ${lock.owner.pid} on ${lock.owner.host} (the queue re-delivered its job)\n`,
      );
      fs.rmSync(path.join(runDir, LOCK_FILE), { force: true });
    }
    try {
      assertNotInUse(runDir);
    } catch (e) {
      throw new Error(`${errorText(e)} (retried later)`);
    }
    const decision = inspectArm(arm, false);
    if (decision.action === 'skip') {
      err.write(`[${label}] finished before (job ${job.id}, ${attempt}): not run again\n`);
      const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { step?: number };
      return { status: 'done', finishedBefore: true, step: summary.step ?? 0, worker: me, runDir, wallMs: 0 };
    }
    if (decision.action === 'refuse') {
      throw new UnrecoverableError(`refused: ${decision.reason}; the folder is left as it is: move it away, or enqueue with --fresh`);
    }
    recordArmConfig(runDir, here.prepared, decision);
    writeArmJson(runDir, { arm: d.arm, index: d.index, experiment: d.experiment, settings: d.settings, mode: d.mode, grid: d.grid });

    const entry = running.get(String(job.id))!;
    if (entry.cancelled) throw new UnrecoverableError('cancelled (detox-lab queue cancel) before it started');
    if (signals > 0) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    let loopStart: number | undefined;
    await job
      .updateProgress({
        worker: me,
        step: decision.resumeStep ?? 0,
        totalSteps: NaN,
        fromStep: decision.resumeStep ?? 0,
        updatedAt: new Date().toISOString(),
      } satisfies ArmProgress)
      .catch(() => {
        /* progress is best effort */
      });
    const onMessage = (m: unknown) => {
      const msg = m as ArmMessage;
      if (msg?.type !== 'step') return;
      // Time per step measured in this attempt's training loop (its first message comes as the loop starts).
      if (msg.step === msg.fromStep) loopStart = Date.now();
      const done = msg.step - msg.fromStep;
      const perStep =
        done > 0 && loopStart !== undefined ? (Date.now() - loopStart) / done : msg.step > 0 ? msg.elapsedMs / msg.step : undefined;
      const progress: ArmProgress = {
        worker: me,
        step: msg.step,
        totalSteps: msg.totalSteps,
        elapsedMs: msg.elapsedMs,
        fromStep: msg.fromStep,
        etaMs: perStep === undefined ? undefined : Math.round(perStep * (msg.totalSteps - msg.step)),
        updatedAt: new Date().toISOString(),
      };
      job.updateProgress(progress).catch(() => {
        /* progress is best effort */
      });
    };
    const result = await new Promise<ArmResult>((resolve) => {
      entry.child = startArmProcess(
        {
          label,
          runDir,
          cli: opts.cli ?? CLI_PATH,
          out,
          err,
          onMessage,
          what: `job ${job.id}, ${attempt}, ${decision.action === 'resume' ? `resuming from step ${decision.resumeStep}` : 'from the start'}`,
          env: { [GRID_PARALLEL_ENV]: String(opts.concurrency), [ARM_CHANNEL_ENV]: '1' },
        },
        resolve,
      );
      // A signal or a cancel that came while the arm was being prepared.
      if (signals > 0 || entry.cancelled) entry.child.kill('SIGINT');
    });
    if (entry.lockLost)
      throw new Error(
        `this worker lost the job's lock (Redis unreachable for longer than the lock timeout?); the arm was stopped and another worker resumes it`,
      );
    if (result.status === 'done') {
      const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { step?: number };
      return { status: 'done', finishedBefore: false, step: summary.step ?? 0, worker: me, runDir, wallMs: result.wallMs };
    }
    if (entry.cancelled) {
      throw new UnrecoverableError(`cancelled (detox-lab queue cancel): ${result.note}; enqueue the grid again to resume it`);
    }
    if (signals > 0) {
      // Back to the queue without costing an attempt: any worker resumes the arm from the checkpoint just saved.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (result.code === EXIT.usage) throw new UnrecoverableError(result.note ?? `exit code ${result.code}`);
    throw new Error(result.note ?? `exit code ${result.code}`);
  };

  const finishGrid = async (job: Job<GridJobData>) => {
    const done = Object.keys(await job.getChildrenValues()).length;
    const failures = await job.getIgnoredChildrenFailures();
    const failed = Object.keys(failures).length;
    err.write(
      `grid "${job.data.experiment}" (job ${job.id}) finished: ${done} arm${done === 1 ? '' : 's'} done, ${failed} failed` +
        `${failed ? ` (${Object.values(failures).join('; ')})` : ''}\n`,
    );
    return { done, failed };
  };

  const worker = new Worker(
    QUEUE_NAME,
    async (job: Job, token?: string) => {
      if (job.name === 'grid') return finishGrid(job as Job<GridJobData>);
      running.set(String(job.id), { job, cancelled: false, lockLost: false });
      try {
        const r = await runArm(job as Job<ArmJobData>, token);
        return r;
      } catch (e) {
        if (!(e instanceof WaitingError))
          err.write(`[${(job.data as ArmJobData).experiment}/${(job.data as ArmJobData).arm}] job ${job.id}: ${(e as Error).message}\n`);
        throw e;
      } finally {
        if (running.get(String(job.id))?.cancelled) await side.srem(CANCEL_KEY, String(job.id)).catch(() => {});
        running.delete(String(job.id));
      }
    },
    {
      connection,
      prefix: QUEUE_PREFIX,
      concurrency: opts.concurrency,
      autorun: false,
      name: me,
      lockDuration: opts.lockMs,
      stalledInterval: opts.lockMs,
      maxStalledCount: MAX_STALLS,
    },
  );

  // Redis errors: reported once per distinct message while they last (ioredis reconnects on its own).
  let lastError = '';
  worker.on('error', (e) => {
    if (e.message !== lastError) err.write(`worker: queue error: ${e.message} (reconnecting; running arms go on)\n`);
    lastError = e.message;
  });
  worker.on('ready', () => {
    if (lastError) err.write(`worker: connected to ${opts.address.display} again\n`);
    lastError = '';
  });
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      const r = running.get(String(id));
      if (!r || r.lockLost) continue;
      r.lockLost = true;
      err.write(
        `[${(r.job.data as ArmJobData).experiment}/${(r.job.data as ArmJobData).arm}] lost the job's lock: stopping the arm now (another worker resumes it)\n`,
      );
      r.child?.kill('SIGKILL');
    }
  });

  // `queue cancel` marks running arms in a Redis set; workers look every second. --until-empty looks for work left.
  const queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  queue.on('error', () => {
    /* idem */
  });
  let idleChecks = 0;
  const poll = setInterval(() => {
    void (async () => {
      const ids = [...running.keys()];
      if (ids.length) {
        const marks = await side.smismember(CANCEL_KEY, ...ids);
        ids.forEach((id, i) => {
          const r = running.get(id);
          if (!marks[i] || !r || r.cancelled) return;
          r.cancelled = true;
          err.write(
            `[${(r.job.data as ArmJobData).experiment}/${(r.job.data as ArmJobData).arm}] cancelled: stopping after the current step and saving\n`,
          );
          r.child?.kill('SIGINT');
        });
      }
      if (opts.untilEmpty && running.size === 0 && signals === 0) {
        const counts = await queue.getJobCounts(...UNFINISHED);
        // Twice in a row: a job between two states is not missed.
        idleChecks = Object.values(counts).every((n) => n === 0) ? idleChecks + 1 : 0;
        if (idleChecks >= 2) {
          err.write(`worker: the queue has no unfinished job: stopping\n`);
          void worker.close();
        }
      }
    })().catch(() => {
      /* Redis away: next round */
    });
  }, 1000);

  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    err.write(
      signals === 1
        ? `\n${sig}: no new arm starts; running arms stop after their current step and save, and go back to the queue (press Ctrl-C again to quit now)\n`
        : `${sig}: asking running arms to quit now\n`,
    );
    for (const r of running.values()) {
      try {
        r.child?.kill(sig);
      } catch {
        /* already gone */
      }
    }
    if (signals === 1) void worker.close();
  };
  const onExit = () => {
    for (const r of running.values()) {
      try {
        r.child?.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  err.write(
    `worker ${me}: taking arms from ${opts.address.display} (concurrency ${opts.concurrency}, ` +
      `${opts.runsDir ? `arms in ${rel(opts.runsDir)}/<experiment>/<arm>` : `arms in each config's runsDir under ${projectDir}`}, lock timeout ${opts.lockMs / 1000} s)\n`,
  );
  try {
    await worker.run();
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    await queue.close().catch(() => {});
    side.disconnect();
  }
  return signals > 0 ? EXIT.interrupted : EXIT.ok;
}
