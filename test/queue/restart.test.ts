import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';
import { startRedis } from '../helpers/redis.js';
import { missing, pauseHook, queueRows, skipQueueTests, SMALL, writePauseHook } from '../helpers/queue.js';
import { runCli, startCli, waitFor } from '../helpers/procs.js';

if (skipQueueTests) console.log(`queue restart test skipped: ${missing}`);
const redisTest = skipQueueTests ? test.skip : test;
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

redisTest(
  "Redis restarts under a running arm; cancel stops it with a checkpoint; a Ctrl-C'd worker puts its arm back for another",
  async (t) => {
    if (missing) return t.fail(`CI=true: ${missing}`);
    const redis = await startRedis({ appendOnly: true });
    t.teardown(() => redis.stop());
    const q = ['--queue', redis.url];
    // No grid: the experiment is queued as its one arm, "main". A hook plugin waits after each step as many ms as the
    // file pause-ms says, so the arm is still running while the test restarts Redis, cancels and stops a worker.
    const dir = await tinyProject((p) =>
      tinyExperiment(p, {
        ...SMALL,
        eval: { enabled: false },
        train: { ...SMALL.train, steps: 20, checkpointEvery: 1 },
        ...pauseHook(),
      }),
    );
    const pause = writePauseHook(dir, 1000);
    const samples = path.join(dir, 'runs/tiny/main/samples.jsonl');
    const stepsDone = () =>
      fs.existsSync(samples)
        ? Math.max(
            0,
            ...fs
              .readFileSync(samples, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l).step as number),
          )
        : 0;
    t.is((await runCli(t, dir, 'run', ...q)).code, 0);

    const w1 = startCli(t, dir, ['worker', ...q, '--lock-timeout', '10']);
    await waitFor(() => stepsDone() >= 1, 60_000, 'the first step');
    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    const before = stepsDone();
    await waitFor(() => stepsDone() > before, 30_000, 'a step after the restart');
    const running = (await queueRows(redis.url))[0]!;
    t.like(running, { arm: 'main', state: 'running', totalSteps: 20 });
    t.true(running.step! >= 1);
    t.regex(running.worker!, /:\d+$/);
    t.regex(w1.stderr(), /worker: queue error: .*\(reconnecting; running arms go on\)/);
    t.regex(w1.stderr(), /worker: connected to redis:\/\/127\.0\.0\.1:\d+ again/);
    t.notRegex(w1.stderr(), /lost the job's lock/);

    // cancel: the running arm stops after its step and saves; its job fails as cancelled.
    const c = await runCli(t, dir, 'queue', 'cancel', 'tiny', ...q);
    t.regex(c.stderr, /\[tiny\/main\] running \(job [\w-]+\): its worker stops it after the current step and saves/);
    await waitFor(() => /\[tiny\/main\] interrupted in/.test(w1.stderr()), 30_000, 'the cancelled arm to stop');
    await waitFor(() => /cancelled \(detox-lab queue cancel\)/.test(w1.stderr()), 10_000, 'the job to be cancelled');
    const stoppedAt = readJson(path.join(dir, 'runs/tiny/main/summary.json'));
    t.is(stoppedAt.status, 'interrupted');
    t.like((await queueRows(redis.url))[0], { state: 'cancelled' });

    // Enqueued again, it resumes from its checkpoint; Ctrl-C on the worker puts it back (not a failed attempt).
    const again = await runCli(t, dir, 'run', ...q);
    t.is(again.code, 0, again.stderr);
    await waitFor(() => /\[tiny\/main\] resumed from .* at step \d+/.test(w1.stderr()), 30_000, 'the resume');
    await waitFor(() => stepsDone() > stoppedAt.step, 30_000, 'a step after the resume');
    w1.proc.kill('SIGINT');
    const end1 = await w1.exit;
    t.is(end1.code, 130, w1.stderr());
    t.regex(w1.stderr(), /SIGINT: no new arm starts; running arms stop after their current step and save, and go back to the queue/);
    const saved = readJson(path.join(dir, 'runs/tiny/main/summary.json'));
    t.is(saved.status, 'interrupted');
    t.like(
      (await queueRows(redis.url)).find((r) => r.state !== 'cancelled'),
      { state: 'waiting', attempts: '0/3' },
    );

    fs.writeFileSync(pause, '0');
    const w2 = await runCli(t, dir, 'worker', ...q, '--until-empty');
    t.is(w2.code, 0, w2.stderr);
    t.regex(w2.stderr, new RegExp(`\\[tiny/main\\] resumed from .*step-${saved.step} at step ${saved.step}`));
    const done = readJson(path.join(dir, 'runs/tiny/main/summary.json'));
    t.deepEqual([done.status, done.step], ['done', 20]);
    // Every step's samples once: the samples file equals an uninterrupted run's.
    t.deepEqual(
      fs
        .readFileSync(samples, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).step),
      Array.from({ length: 40 }, (_, i) => Math.floor(i / 2) + 1),
    );
  },
);
