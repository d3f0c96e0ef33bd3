/**
 * The queue commands: `detox-lab worker` and `detox-lab queue status|cancel`, and `run --queue`'s enqueueing.
 * Grid arms become BullMQ jobs in Redis (core/queue/); workers on any number of machines run them.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { AnyPluginDefinition } from '../plugin/define.js';
import { UserError } from '../exit.js';

const QUEUE_HELP =
  'Redis holding the queue: redis://host[:port][/db] (rediss:// for TLS; default $DETOX_LAB_QUEUE, then redis://127.0.0.1:6379)';

function integer(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < min)
    throw new UserError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function seconds(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UserError(`${flag}: expected a number of seconds ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** `run <experiment> --queue <url>`: enqueue instead of running here. */
export async function enqueueCommand(
  experiment: string | undefined,
  o: {
    set: string[];
    fresh: boolean;
    keepOld?: boolean;
    dryRun: boolean;
    queue: string;
    retries: string;
    retryDelay: string;
    parallel: string;
  },
  builtins: readonly AnyPluginDefinition[],
): Promise<number> {
  const { parseQueueUrl } = await import('../queue/connection.js');
  const address = parseQueueUrl(o.queue);
  const retries = integer('--retries', o.retries, 0);
  const retryDelayMs = seconds('--retry-delay', o.retryDelay, 0) * 1000;
  if (o.parallel !== '1') throw new UserError('--parallel does not apply with --queue: each worker runs --concurrency arms at once');
  const { planArms } = await import('../queue/jobs.js');
  const plan = await planArms({ file: experiment, set: o.set, builtins });
  if (o.dryRun) {
    const { runGrid } = await import('../training/arm-process.js');
    return runGrid(plan, { fresh: o.fresh, keepOld: o.keepOld, dryRun: true });
  }
  const { enqueueGrid } = await import('../queue/enqueue.js');
  return enqueueGrid(plan, { address, set: o.set, fresh: o.fresh, keepOld: o.keepOld, retries, retryDelayMs });
}

/** Adds `worker` and `queue` to the program. */
export function addQueueCommands(program: Command, builtins: readonly AnyPluginDefinition[]): void {
  program
    .command('worker')
    .description('take grid arms from a Redis queue (detox-lab run <grid> --queue ...) and run them here, each exactly as a local run does')
    .option('-q, --queue <url>', QUEUE_HELP)
    .option('-c, --concurrency <n>', 'arms run at once on this machine, each in its own process (they share the cores)', '1')
    .option(
      '--runs-dir <dir>',
      "write arms to <dir>/<experiment>/<arm> (default: the config's runsDir in this project; a folder every machine shares keeps all results in one place)",
    )
    .option(
      '--lock-timeout <seconds>',
      "a worker that stops renewing its arm's lock this long (killed, frozen, cut off) loses the arm to another worker, which resumes it from its last checkpoint",
      '30',
    )
    .option('--until-empty', 'stop (exit 0) once the queue has no unfinished arm, instead of waiting for more', false)
    .exitOverride() // unknown options: exit code 2 like other usage errors
    .addHelpText(
      'after',
      `
Run workers from a checkout of the project (the experiment files, models and data at the same relative paths as
where the grid was enqueued): each arm job is resolved again from its experiment file here and refused if its
config differs from what was enqueued. Arms run as \`detox-lab run --resume <arm folder>\`, in the same folders and
with the same figures as a local \`detox-lab run <grid>\`.

Delivery is at least once: a killed worker's arm goes back to the queue after --lock-timeout and another worker
resumes it from its last checkpoint; an arm that already finished is not run again. A failing arm is retried
(run --retries, with a doubling --retry-delay) and then reported failed while the other arms go on. If Redis goes
away, the worker reconnects on its own (running arms go on).

Ctrl-C: no new arm starts; running arms stop after their current step, save, and go back to the queue for any
worker to resume (exit 130). A second Ctrl-C quits at once.

Examples:
  $ redis-server --port 6379 --bind 127.0.0.1              (or a Redis every machine can reach)
  $ detox-lab worker --queue redis://10.0.0.5:6379          on each machine, in the project folder
  $ detox-lab run experiments/prompt-length.json --queue redis://10.0.0.5:6379
  $ detox-lab queue status --queue redis://10.0.0.5:6379`,
    )
    .action(async (o: { queue?: string; concurrency: string; runsDir?: string; lockTimeout: string; untilEmpty: boolean }) => {
      const { parseQueueUrl } = await import('../queue/connection.js');
      const address = parseQueueUrl(o.queue);
      const concurrency = integer('--concurrency', o.concurrency, 1);
      const lockMs = seconds('--lock-timeout', o.lockTimeout, 1) * 1000;
      const { runWorker } = await import('../queue/worker.js');
      process.exitCode = await runWorker({
        address,
        concurrency,
        lockMs,
        untilEmpty: o.untilEmpty,
        builtins,
        runsDir: o.runsDir ? path.resolve(o.runsDir) : undefined,
      });
    });

  const queue = program.command('queue').description('the grids in a Redis queue: status, cancel').exitOverride(); // `detox-lab queue` alone: the help, and exit code 2 like other usage errors
  queue
    .command('status')
    .description('each queued arm: state (waiting, running, retrying, done, failed, cancelled), worker, step and ETA')
    .argument('[experiment]', "only this experiment's arms")
    .option('-q, --queue <url>', QUEUE_HELP)
    .option('--json', 'print JSON instead of a table', false)
    .action(async (experiment: string | undefined, o: { queue?: string; json: boolean }) => {
      const { parseQueueUrl } = await import('../queue/connection.js');
      const { queueStatus } = await import('../queue/status.js');
      process.exitCode = await queueStatus(parseQueueUrl(o.queue), { experiment, json: o.json });
    });
  queue
    .command('cancel')
    .description(
      'cancel a grid: its waiting arms leave the queue, its running arms stop after the current step and save (enqueueing the grid again resumes them)',
    )
    .argument('[experiment]', 'the experiment whose arms to cancel')
    .option('-q, --queue <url>', QUEUE_HELP)
    .option('--all', 'cancel every grid in the queue', false)
    .action(async (experiment: string | undefined, o: { queue?: string; all: boolean }) => {
      const { parseQueueUrl } = await import('../queue/connection.js');
      const { queueCancel } = await import('../queue/status.js');
      process.exitCode = await queueCancel(parseQueueUrl(o.queue), { experiment, all: o.all });
    });
}
