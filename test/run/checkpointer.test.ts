/**
 * The trainer's checkpoint cadence (core/training/checkpointer.ts) and its one place for stops (core/training/stop.ts),
 * with a policy that saves a stand-in folder: which checkpoints are written when, what onCheckpoint sees, and what
 * each stop reason leaves (status, error, checkpoint, log line, onRunEnd).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Hook } from '../../core/interfaces/hook.js';
import type { Optimiser } from '../../core/interfaces/optimiser.js';
import type { Policy } from '../../core/interfaces/policy.js';
import type { TrainerState } from '../../core/training/checkpoint.js';
import { Checkpointer } from '../../core/training/checkpointer.js';
import { runToStop, type StopReason } from '../../core/training/stop.js';
import { NonFiniteError } from '../../core/ppo/step.js';
import { tmpProject } from '../helpers/tmp.js';

function setUp(opts: { checkpointEvery: number; keepCheckpoints: number | null; failHook?: boolean }) {
  const runDir = tmpProject({});
  const events: string[] = [];
  const policy = {
    save: async (dir: string) => {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    },
  } as unknown as Policy;
  const optimiser = { getState: () => ({ step: 0, scalars: {}, arrays: {} }) } as unknown as Optimiser;
  const hooks: Hook[] = [
    {
      name: 'recorder',
      onCheckpoint: ({ step, name }) => {
        events.push(`onCheckpoint ${step} ${name}`);
        if (opts.failHook) throw new Error('disk full');
      },
    },
  ];
  let step = 0;
  const state = () => ({ version: 1, step }) as unknown as TrainerState;
  const saver = new Checkpointer({
    runDir,
    policy,
    optimiser,
    hooks,
    train: { checkpointEvery: opts.checkpointEvery, keepCheckpoints: opts.keepCheckpoints },
    state,
    log: (m) => events.push(`log ${m.replaceAll(runDir, '<run>')}`),
  });
  const checkpoints = () =>
    fs
      .readdirSync(path.join(runDir, 'checkpoints'))
      .filter((n) => !n.startsWith('.'))
      .sort();
  return {
    runDir,
    events,
    saver,
    checkpoints,
    setStep: (s: number) => {
      step = s;
    },
    getStep: () => step,
  };
}

test('cadence: step-N every checkpointEvery steps short of the last, onCheckpoint first, pruned to keepCheckpoints', async (t) => {
  const { saver, events, checkpoints, setStep, runDir } = setUp({ checkpointEvery: 2, keepCheckpoints: 2 });
  for (let s = 1; s <= 6; s++) {
    setStep(s);
    await saver.maybeSave(s, 6);
  }
  t.deepEqual(checkpoints(), ['step-2', 'step-4'], 'step 6 is the last: its checkpoint is the final one');
  t.is(saver.last, path.join(runDir, 'checkpoints', 'step-4'));
  await saver.save(6);
  t.deepEqual(checkpoints(), ['step-4', 'step-6']);
  t.deepEqual(events, [
    'onCheckpoint 2 step-2',
    'onCheckpoint 4 step-4',
    'onCheckpoint 6 step-6',
    'log removed <run>/checkpoints/step-2 (train.keepCheckpoints 2)',
  ]);
  const never = setUp({ checkpointEvery: 0, keepCheckpoints: null });
  for (let s = 1; s <= 3; s++) await never.saver.maybeSave(s, 3);
  t.is(never.saver.last, undefined, 'checkpointEvery 0: only at the end');
});

test('failed(): kept under its name and never pruned; if it cannot be written, the last checkpoint stays', async (t) => {
  const { saver, checkpoints, setStep, runDir } = setUp({ checkpointEvery: 1, keepCheckpoints: 1 });
  setStep(1);
  await saver.save(1);
  t.is(await saver.failed(1, 'failed-step-2'), path.join(runDir, 'checkpoints', 'failed-step-2'));
  setStep(2);
  await saver.save(2);
  t.deepEqual(checkpoints(), ['failed-step-2', 'step-2']);
  const broken = setUp({ checkpointEvery: 1, keepCheckpoints: null, failHook: true });
  t.is(await broken.saver.failed(0, 'failed-step-1'), undefined);
});

test('each stop reason: status, error, checkpoint and log line; other errors end the run and are rethrown', async (t) => {
  const stopWith = async (reason: StopReason | (() => never), step: number) => {
    const s = setUp({ checkpointEvery: 0, keepCheckpoints: null });
    s.setStep(step);
    const ends: string[] = [];
    const loop = typeof reason === 'function' ? async () => reason() : async () => reason;
    const ctx = {
      step: s.getStep,
      saver: s.saver,
      log: (m: string) => s.events.push(`log ${m.replaceAll(s.runDir, '<run>')}`),
      runEnd: async (r: string) => {
        ends.push(r);
      },
    };
    const stopped = await runToStop(loop, ctx).then(
      (r) => (r.error ? { ...r, error: r.error.replaceAll(s.runDir, '<run>') } : r),
      (err: Error) => ({ threw: err.message }),
    );
    return { stopped, events: s.events, ends, last: s.saver.last?.replace(s.runDir, '<run>') };
  };
  t.deepEqual(await stopWith({ kind: 'done' }, 3), {
    stopped: { status: 'done' },
    events: ['onCheckpoint 3 step-3'],
    ends: [],
    last: '<run>/checkpoints/step-3',
  });
  t.deepEqual((await stopWith({ kind: 'interrupted' }, 2)).stopped, { status: 'interrupted' });
  t.deepEqual(await stopWith({ kind: 'zero-variance', failure: 'flat', warning: 'w' }, 0), {
    stopped: { status: 'failed', error: 'flat' },
    events: ['log warning: w', 'log stopped: flat'],
    ends: [],
    last: undefined,
  });
  t.deepEqual((await stopWith({ kind: 'zero-variance', failure: 'flat' }, 2)).events, [
    'onCheckpoint 2 step-2',
    'log stopped: flat; steps up to 2 saved to <run>/checkpoints/step-2',
  ]);
  const worker = await stopWith({ kind: 'worker-failed', failure: new Error('worker 1 exited') }, 4);
  const message =
    'worker 1 exited; step 4 was finished on the main thread and saved to <run>/checkpoints/step-4 ' +
    '(continue with --resume; workers: 1 runs without threads)';
  t.deepEqual(worker, {
    stopped: { status: 'failed', error: message },
    events: ['onCheckpoint 4 step-4', `log stopped: ${message}`],
    ends: [],
    last: '<run>/checkpoints/step-4',
  });
  const nonFinite = await stopWith(() => {
    throw new NonFiniteError('loss is NaN');
  }, 5);
  t.deepEqual(nonFinite, {
    stopped: { status: 'failed', error: 'loss is NaN' },
    events: ['onCheckpoint 5 failed-step-6', 'log stopped: loss is NaN; state saved to <run>/checkpoints/failed-step-6'],
    ends: [],
    last: '<run>/checkpoints/failed-step-6',
  });
  t.deepEqual(
    await stopWith(() => {
      throw new Error('boom');
    }, 5),
    { stopped: { threw: 'boom' }, events: [], ends: ['failed'], last: undefined },
  );
});
