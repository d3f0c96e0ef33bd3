/**
 * `detox-lab run <experiment> --queue redis://...`: validates every arm (as a local run does), decides per arm folder
 * what a local re-run would (skip finished arms, move aside used folders of another config or with `--fresh`), and
 * adds the rest as one BullMQ flow: a parent `grid` job with a child job per arm. Workers take the arms from there.
 */
import os from 'node:os';
import path from 'node:path';
import { FlowProducer, Queue } from 'bullmq';
import { inspectArm, prepareFolder } from '../training/arm-process.js';
import { moveAside } from '../training/run-folder.js';
import { EXIT, UserError } from '../exit.js';
import type { AblationPlan } from '../config/ablate.js';
import { markdownTable } from '../compare/markdown.js';
import { checkReachable, QUEUE_NAME, QUEUE_PREFIX, redisOptions, type QueueAddress } from './connection.js';
import { armJobs, type ArmJobData, type GridJobData } from './jobs.js';

/** States of a job that is still to run or running. */
export const UNFINISHED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused'] as const;

/** Options of {@link enqueueGrid}. */
interface EnqueueOptions {
  address: QueueAddress;
  /** The `--set`s of the command (recorded in each job, so workers resolve the same arms). */
  set: readonly string[];
  fresh?: boolean;
  /** With `fresh`: keep every earlier copy of an arm folder. */
  keepOld?: boolean;
  /** Retries of a failing arm (attempts = retries + 1), and the first backoff delay in ms (doubling). */
  retries: number;
  retryDelayMs: number;
  err?: NodeJS.WritableStream;
  out?: NodeJS.WritableStream;
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;

/** Enqueues a validated grid; returns the exit code. */
export async function enqueueGrid(plan: AblationPlan, opts: EnqueueOptions): Promise<number> {
  const err = opts.err ?? process.stderr;
  const out = opts.out ?? process.stdout;
  await checkReachable(opts.address);
  const connection = redisOptions(opts.address);
  const queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  const flow = new FlowProducer({ connection, prefix: QUEUE_PREFIX });
  try {
    // One grid's arm must never be queued twice at once: two workers would write the same folder.
    const names = new Set(plan.arms.map((a) => a.name));
    const pending = (await queue.getJobs([...UNFINISHED]))
      .filter(
        (j) => j && j.name !== 'grid' && (j.data as ArmJobData).experiment === plan.experiment && names.has((j.data as ArmJobData).arm),
      )
      .sort((a, b) => (a.data as ArmJobData).index - (b.data as ArmJobData).index);
    if (pending.length) {
      const list = pending
        .slice(0, 3)
        .map((j) => `${(j.data as ArmJobData).arm} (job ${j.id})`)
        .join(', ');
      throw new UserError(
        `--queue ${opts.address.display}: grid "${plan.experiment}" already has ${pending.length} unfinished arm job${pending.length > 1 ? 's' : ''} ` +
          `in the queue: ${list}${pending.length > 3 ? ', ...' : ''}; follow them with: detox-lab queue status --queue ${opts.address.display}, ` +
          `or cancel them first: detox-lab queue cancel ${plan.experiment} --queue ${opts.address.display}`,
        EXIT.usage,
      );
    }

    // The same per-folder decisions as a local grid run (a shared runs folder is the same folder the workers use).
    const toQueue: AblationPlan['arms'] = [];
    const decisions = plan.arms.map((arm) => ({ arm, decision: inspectArm(arm, Boolean(opts.fresh), Boolean(opts.keepOld)) }));
    const refused = decisions.filter(({ decision }) => decision.action === 'refuse');
    if (refused.length) {
      throw new UserError(
        `nothing was queued: ${refused.map(({ arm, decision }) => `[${arm.name}] ${decision.reason}`).join('; ')}`,
        EXIT.usage,
      );
    }
    for (const { arm, decision } of decisions) {
      if (decision.action === 'skip') {
        err.write(`[${arm.name}] finished before: not queued (--fresh runs it again)\n`);
        continue;
      }
      if (decision.moveAside) err.write(`[${arm.name}] previous run moved to ${rel(moveAside(arm.runDir))} (${decision.moveAside})\n`);
      prepareFolder(arm, decision, plan);
      toQueue.push(arm);
    }
    if (!toQueue.length) {
      err.write(
        `grid "${plan.experiment}": every arm finished before; nothing queued (compare them: detox-lab compare ${rel(plan.experimentDir)})\n`,
      );
      return EXIT.ok;
    }
    const by = `${os.hostname()}:${process.pid}`;
    const jobs = armJobs(plan, opts.set, by).filter((j) => toQueue.some((a) => a.name === j.arm));
    const gridData: GridJobData = {
      experiment: plan.experiment,
      arms: jobs.map((j) => j.arm),
      source: jobs[0]!.source,
      set: [...opts.set],
      enqueuedAt: jobs[0]!.enqueuedAt,
      enqueuedBy: by,
    };
    const node = await flow.add({
      name: 'grid',
      queueName: QUEUE_NAME,
      data: gridData,
      children: jobs.map((data) => ({
        name: data.arm,
        queueName: QUEUE_NAME,
        data,
        opts: {
          attempts: opts.retries + 1,
          backoff: { type: 'exponential', delay: opts.retryDelayMs },
          // A finally failed arm is recorded on the grid and the grid goes on.
          ignoreDependencyOnFailure: true,
        },
      })),
    });
    out.write(
      `${markdownTable(
        ['arm', 'job', 'config sha256', 'folder'],
        jobs.map((j, i) => [j.arm, String(node.children?.[i]?.job.id ?? '?').slice(0, 8), j.hash.slice(0, 12), rel(toQueue[i]!.runDir)]),
      )}\n`,
    );
    const q = `--queue ${opts.address.display}`;
    err.write(
      `queued grid "${plan.experiment}" (job ${node.job.id}): ${jobs.length} arm${jobs.length > 1 ? 's' : ''} on ${opts.address.display}, ` +
        `${opts.retries} retr${opts.retries === 1 ? 'y' : 'ies'} per arm\n` +
        `  start workers (any machine, in a checkout of this project): detox-lab worker ${q}\n` +
        `  follow:  detox-lab queue status ${q}\n` +
        `  cancel:  detox-lab queue cancel ${plan.experiment} ${q}\n` +
        `  then:    detox-lab compare ${rel(plan.experimentDir)}\n`,
    );
    return EXIT.ok;
  } finally {
    await flow.close();
    await queue.close();
  }
}
