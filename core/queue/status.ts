/**
 * `detox-lab queue status` — each arm's state, worker, step and ETA — and `detox-lab queue cancel` — waiting arms
 * leave the queue, running arms stop after their current step with a checkpoint (so enqueueing the grid again
 * resumes them).
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { EXIT, UserError } from '../exit.js';
import { markdownTable } from '../compare/markdown.js';
import { checkReachable, QUEUE_NAME, QUEUE_PREFIX, redisOptions, type QueueAddress } from './connection.js';
import { UNFINISHED } from './enqueue.js';
import type { ArmJobData, ArmJobResult, ArmProgress, GridJobData } from './jobs.js';
import { CANCEL_KEY } from './worker.js';

const STATES = [...UNFINISHED, 'completed', 'failed'] as const;

/** One arm job as the status shows it. */
export interface ArmStatus {
  grid: string;
  experiment: string;
  arm: string;
  job: string;
  state: string;
  worker?: string;
  step?: number;
  totalSteps?: number;
  etaMs?: number;
  attempts: string;
  note?: string;
}

const duration = (ms: number | undefined) => {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  return s < 60
    ? `${s} s`
    : s < 3600
      ? `${Math.floor(s / 60)} min ${s % 60} s`
      : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};

async function withQueue<T>(address: QueueAddress, f: (queue: Queue) => Promise<T>): Promise<T> {
  await checkReachable(address);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(address), prefix: QUEUE_PREFIX });
  try {
    return await f(queue);
  } finally {
    await queue.close();
  }
}

/** Every arm job (optionally of one experiment), with its state, grouped by grid in enqueue order. */
export async function armStatuses(queue: Queue, experiment?: string): Promise<ArmStatus[]> {
  const rows: (ArmStatus & { order: number })[] = [];
  for (const state of STATES) {
    for (const job of (await queue.getJobs([state])).filter(Boolean) as Job[]) {
      if (job.name === 'grid') continue;
      const d = job.data as ArmJobData;
      if (experiment !== undefined && d.experiment !== experiment) continue;
      const p = (typeof job.progress === 'object' ? job.progress : {}) as Partial<ArmProgress>;
      const result = job.returnvalue as ArmJobResult | null;
      let shown: string = state;
      let note: string | undefined;
      if (state === 'active') shown = 'running';
      else if (state === 'completed') {
        shown = 'done';
        note = result?.finishedBefore ? 'finished before: not run again' : `in ${duration(result?.wallMs)}`;
      } else if (state === 'failed') {
        shown = /^cancelled/.test(job.failedReason ?? '') ? 'cancelled' : 'failed';
        note = job.failedReason;
      } else if (state === 'delayed' && job.attemptsMade > 0) {
        shown = 'retrying';
        note = `attempt ${job.attemptsMade + 1} after: ${job.failedReason ?? ''}`;
      } else if (state === 'waiting' && job.attemptsStarted > job.attemptsMade) {
        note = 'put back: its worker stopped or vanished (it resumes from its last checkpoint)';
      }
      rows.push({
        order: job.timestamp * 1e4 + d.index,
        grid: String(job.parent?.id ?? '—'),
        experiment: d.experiment,
        arm: d.arm,
        job: String(job.id),
        state: shown,
        worker: state === 'active' || state === 'completed' ? (result?.worker ?? p.worker ?? job.processedBy) : undefined,
        step: result?.step ?? p.step,
        totalSteps: Number.isFinite(p.totalSteps) ? p.totalSteps : undefined,
        etaMs: state === 'active' ? p.etaMs : undefined,
        attempts: `${job.attemptsMade}/${job.opts.attempts ?? 1}`,
        note,
      });
    }
  }
  return rows.sort((a, b) => a.order - b.order).map(({ order: _o, ...r }) => r);
}

/** `queue status`: the table (or JSON) to `out`; returns the exit code. */
export async function queueStatus(
  address: QueueAddress,
  opts: { experiment?: string; json?: boolean; out?: NodeJS.WritableStream; err?: NodeJS.WritableStream },
): Promise<number> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  return withQueue(address, async (queue) => {
    const rows = await armStatuses(queue, opts.experiment);
    if (opts.json) {
      out.write(`${JSON.stringify({ queue: address.display, arms: rows }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (!rows.length) {
      err.write(
        `no arm${opts.experiment ? ` of "${opts.experiment}"` : ''} in the queue at ${address.display} (enqueue a grid with: detox-lab run <experiment> --queue ${address.display})\n`,
      );
      return EXIT.ok;
    }
    out.write(
      `${markdownTable(
        ['experiment', 'arm', 'job', 'state', 'worker', 'step', 'ETA', 'attempts', 'note'],
        rows.map((r) => [
          r.experiment,
          r.arm,
          r.job.slice(0, 8),
          r.state,
          r.worker ?? '—',
          r.step === undefined ? '—' : `${r.step}${r.totalSteps ? `/${r.totalSteps}` : ''}`,
          r.state === 'running' ? duration(r.etaMs) : '—',
          r.attempts,
          r.note ?? '',
        ]),
      )}\n`,
    );
    const count = (s: string) => rows.filter((r) => r.state === s).length;
    err.write(
      `${rows.length} arms: ${count('done')} done, ${count('running')} running, ${count('waiting') + count('delayed') + count('prioritized') + count('retrying')} waiting, ` +
        `${count('failed')} failed, ${count('cancelled')} cancelled (ETA: training steps left × this attempt's time per step)\n`,
    );
    return EXIT.ok;
  });
}

/** `queue cancel <experiment>` (or every grid with `all`): returns the exit code. */
export async function queueCancel(
  address: QueueAddress,
  opts: { experiment?: string; all?: boolean; err?: NodeJS.WritableStream },
): Promise<number> {
  const err = opts.err ?? process.stderr;
  if (!opts.all && !opts.experiment)
    throw new UserError('queue cancel: name the experiment whose grid to cancel (see detox-lab queue status), or give --all');
  return withQueue(address, async (queue) => {
    const jobs = ((await queue.getJobs([...UNFINISHED])).filter(Boolean) as Job[]).filter(
      (j) => opts.all || (j.data as ArmJobData | GridJobData).experiment === opts.experiment,
    );
    const arms = jobs.filter((j) => j.name !== 'grid');
    if (!arms.length) {
      err.write(
        `nothing to cancel: no unfinished arm${opts.experiment ? ` of "${opts.experiment}"` : ''} in the queue at ${address.display}\n`,
      );
      return EXIT.ok;
    }
    const side = new Redis(redisOptions(address));
    let stopping = 0;
    let removed = 0;
    try {
      for (const job of arms) {
        const label = `${(job.data as ArmJobData).experiment}/${(job.data as ArmJobData).arm}`;
        if (await job.isActive()) {
          await side.sadd(CANCEL_KEY, String(job.id));
          err.write(`[${label}] running (job ${job.id}): its worker stops it after the current step and saves\n`);
          stopping++;
        } else {
          await job.remove();
          err.write(`[${label}] removed from the queue (job ${job.id})\n`);
          removed++;
        }
      }
    } finally {
      side.disconnect();
    }
    err.write(
      `cancelled ${arms.length} arm${arms.length > 1 ? 's' : ''}: ${removed} removed, ${stopping} stopping; ` +
        `enqueueing the grid again resumes them from their checkpoints\n`,
    );
    return EXIT.ok;
  });
}
