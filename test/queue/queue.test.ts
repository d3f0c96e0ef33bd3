import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';
import { freePort, redisMissing, startRedis } from '../helpers/redis.js';
import { runCli, startCli, waitFor } from '../helpers/procs.js';
import { ROOT } from '../helpers/tmp.js';
import { Queue } from 'bullmq';
import { parseQueueUrl, QUEUE_NAME, QUEUE_PREFIX, redisOptions } from '../../core/queue/connection.js';
import { armStatuses, type ArmStatus } from '../../core/queue/status.js';

const missing = redisMissing();
const onCi = process.env.CI === 'true';
if (missing && !onCi) console.log(`queue tests with Redis skipped: ${missing}`);
const redisTest = missing && !onCi ? test.skip : test;
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const count = (s: string, re: RegExp) => (s.match(new RegExp(re, 'g')) ?? []).length;

/** A tiny arm: a few small steps, a small evaluation. */
const SMALL = {
  workers: 1, ppo: { batchSize: 2, miniBatchSize: 2, ppoEpochs: 1 }, generation: { responseTokens: [3, 5] },
  eval: { maxNewTokens: 4, batchSize: 4 }, train: { steps: 2, checkpointEvery: 1, sampleEvery: 1, progress: false },
};

/** The arms `queue status --json` lists (read in this process: a CLI start costs seconds on a loaded machine). */
async function status(_t: unknown, _dir: string, url: string): Promise<ArmStatus[]> {
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseQueueUrl(url)), prefix: QUEUE_PREFIX });
  try {
    return await armStatuses(queue);
  } finally {
    await queue.close();
  }
}

test('--queue addresses: parsed, or a usage error naming the flag, the value and the form', (t) => {
  t.like(parseQueueUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2, tls: false });
  t.like(parseQueueUrl('rediss://user:s%40cret@queue.lab:6379'), { host: 'queue.lab', username: 'user', password: 's@cret', tls: true, display: 'rediss://user:***@queue.lab:6379' });
  t.like(parseQueueUrl('redis://[::1]'), { host: '::1', port: 6379, db: 0 });
  const bad = (v: string) => t.throws(() => parseQueueUrl(v), { name: 'UserError' })!.message;
  t.regex(bad('localhost:6379'), /^--queue "localhost:6379": unsupported scheme "localhost"; expected redis:\/\/host\[:port\]\[\/db\]/);
  t.regex(bad('redis://h:6379/zero'), /--queue "redis:\/\/h:6379\/zero": the path must be a database number, got "\/zero"/);
  t.regex(bad('redis://h:99999'), /--queue "redis:\/\/h:99999": not a URL/);
  t.regex(bad('http://h'), /unsupported scheme "http"/);
  t.regex(bad('redis://h/0?x=1'), /no query or fragment is allowed/);
});

test('bad usage exits 2 before anything is queued; an unreachable Redis is named with a hint', async (t) => {
  const dir = await tinyProject((p) => tinyExperiment(p, { ...SMALL, ablate: { seed: [0, 1] } }));
  const r1 = await runCli(t, dir, 'run', '--queue', 'redis//nohost');
  t.is(r1.code, 2);
  t.regex(r1.stderr, /^error: --queue "redis\/\/nohost": not a URL; expected redis:\/\/host\[:port\]\[\/db\]/);
  const port = await freePort();
  const r2 = await runCli(t, dir, 'run', '--queue', `redis://127.0.0.1:${port}`);
  t.is(r2.code, 2);
  t.regex(r2.stderr, new RegExp(`error: --queue redis://127\\.0\\.0\\.1:${port}: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); is redis-server running there .*\\(start one with: redis-server --port ${port}\\)`));
  t.false(fs.existsSync(path.join(dir, 'runs')), 'nothing written');
  const r3 = await runCli(t, dir, 'worker', '--queue', `redis://127.0.0.1:${port}`, '--concurrency', '0');
  t.is(r3.code, 2);
  t.regex(r3.stderr, /error: --concurrency: expected an integer ≥ 1, got "0"/);
  const r4 = await runCli(t, dir, 'run', '--queue', `redis://127.0.0.1:${port}`, '--parallel', '2');
  t.is(r4.code, 2);
  t.regex(r4.stderr, /--parallel does not apply with --queue/);
  const r5 = await runCli(t, dir, 'run', '--queue', `redis://127.0.0.1:${port}`, '--retries', '-1');
  t.regex(r5.stderr, /--retries: expected an integer ≥ 0, got "-1"/);
  const r6 = await runCli(t, dir, 'queue', 'cancel', '--queue', `redis://127.0.0.1:${port}`);
  t.is(r6.code, 2);
  t.regex(r6.stderr, /queue cancel: name the experiment whose grid to cancel .* or give --all/);
  const help = await runCli(t, ROOT, 'worker', '--help');
  t.is(help.code, 0);
  t.regex(help.stdout, /--lock-timeout <seconds> .*\(default: "30"\)/s);
  t.regex(help.stdout, /Delivery is at least once/);
  t.regex((await runCli(t, ROOT, 'run', '--help')).stdout, /-q, --queue <url>/);
});

redisTest('refused, retried, failed and finished-before arms: each reported while the others go on', async (t) => {
  if (missing) return t.fail(`CI=true: ${missing}`);
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const q = ['--queue', redis.url];
  // Grid "tiny": one arm that runs, one that fails at run time (its responses do not fit the context).
  const dir = await tinyProject((p) => tinyExperiment(p, { ...SMALL, eval: { enabled: false } }));
  const experiment = (name: string, over: object) => fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ $import: './.detoxrc.json', experiment: name, ablate: { seed: [0] }, ...over }));
  experiment('tiny', { ablate: { 'generation.responseTokens': [[3, 5], [60, 63]] } });
  experiment('changed', {});
  experiment('again', {});
  experiment('dropped', { ablate: { seed: [0, 1] } });

  const e1 = await runCli(t, dir, 'run', 'tiny.json', ...q, '--retries', '1', '--retry-delay', '0.5');
  t.is(e1.code, 0, e1.stderr);
  t.regex(e1.stderr, /queued grid "tiny" .*: 2 arms on .*, 1 retry per arm/);
  const dup = await runCli(t, dir, 'run', 'tiny.json', ...q);
  t.is(dup.code, 2);
  t.regex(dup.stderr, /grid "tiny" already has 2 unfinished arm jobs in the queue: responseTokens-3-5 \(job [\w-]+\), responseTokens-60-63 \(job [\w-]+\); .*cancel them first: detox-lab queue cancel tiny/);
  for (const name of ['changed', 'again', 'dropped']) t.is((await runCli(t, dir, 'run', `${name}.json`, ...q)).code, 0);
  // Cancelled while waiting: the arms leave the queue.
  const cancel = await runCli(t, dir, 'queue', 'cancel', 'dropped', ...q);
  t.is(cancel.code, 0, cancel.stderr);
  t.is(count(cancel.stderr, /\[dropped\/seed-\d\] removed from the queue/), 2);
  // Edited after it was queued: refused by the worker.
  experiment('changed', { train: { steps: 3 } });
  // Finished elsewhere before a worker got to it (as after a re-delivery): not run again.
  const local = await runCli(t, dir, 'run', 'again.json');
  t.is(local.code, 0, local.stderr);

  const w = await runCli(t, dir, 'worker', ...q, '--until-empty', '--lock-timeout', '5');
  t.is(w.code, 0, w.stderr);
  t.regex(w.stderr, /\[changed\/seed-0\] job [\w-]+: refused: the arm's config changed since it was enqueued \(train\.steps: 2 → 3\)/);
  t.regex(w.stderr, /\[again\/seed-0\] finished before \(job [\w-]+, attempt 1 of 3\): not run again/);
  t.is(count(w.stderr, /\[tiny\/responseTokens-60-63\] started/), 2, 'tried twice');
  t.regex(w.stderr, /grid "tiny" \(job [\w-]+\) finished: 1 arm done, 1 failed \(.*leaves room for 2 besides up to 62 response tokens/);
  t.regex(w.stderr, /grid "changed" \(job [\w-]+\) finished: 0 arms done, 1 failed/);
  t.is(readJson(path.join(dir, 'runs/tiny/responseTokens-3-5/summary.json')).status, 'done');
  t.false(fs.existsSync(path.join(dir, 'runs/changed/seed-0/summary.json')), 'the refused arm did not run');
  t.deepEqual(readJson(path.join(dir, 'runs/changed/seed-0/resolved-config.json')).train.steps, 2, 'its folder is left as it was');

  const rows = await status(t, dir, redis.url);
  const row = (e: string, a: string) => rows.find((r) => r.experiment === e && r.arm === a)!;
  t.like(row('tiny', 'responseTokens-3-5'), { state: 'done', step: 2, attempts: '1/2' });
  t.like(row('tiny', 'responseTokens-60-63'), { state: 'failed', attempts: '2/2' });
  t.regex(row('tiny', 'responseTokens-60-63').note!, /leaves room for 2 besides up to 62 response tokens/);
  t.like(row('changed', 'seed-0'), { state: 'failed', attempts: '1/3' });
  t.like(row('again', 'seed-0'), { state: 'done', note: 'finished before: not run again' });
  t.false(rows.some((r) => r.experiment === 'dropped'));
  const table = await runCli(t, dir, 'queue', 'status', 'tiny', ...q);
  t.regex(table.stdout, /\| tiny +\| responseTokens-3-5 +\| [\w-]{8} \| done +\| [\w.-]+:\d+ \| 2\/2 +\| — +\| 1\/2 +\| in \d+ s/);
  t.regex(table.stderr, /2 arms: 1 done, 0 running, 0 waiting, 1 failed, 0 cancelled/);
});

redisTest('Redis restarts under a running arm; cancel stops it with a checkpoint; a Ctrl-C\'d worker puts its arm back for another', async (t) => {
  if (missing) return t.fail(`CI=true: ${missing}`);
  const redis = await startRedis({ appendOnly: true });
  t.teardown(() => redis.stop());
  const q = ['--queue', redis.url];
  // No grid: the experiment is queued as its one arm, "main". A hook plugin waits after each step for as many ms as
  // the file pause-ms says, so the arm is still running while the test restarts Redis, cancels and stops a worker.
  const dir = await tinyProject((p) => tinyExperiment(p, {
    ...SMALL, eval: { enabled: false }, train: { ...SMALL.train, steps: 20, checkpointEvery: 1 },
    plugins: ['./pause.mjs'], hooks: [{ type: 'pause' }],
  }));
  const pause = path.join(dir, 'pause-ms');
  fs.writeFileSync(pause, '1000');
  fs.writeFileSync(path.join(dir, 'pause.mjs'), `import fs from 'node:fs';
import { definePlugin, z } from ${JSON.stringify(path.join(ROOT, 'dist/core/index.js'))};
export default definePlugin({
  kind: 'hook', name: 'pause', description: 'waits after each step as long as the file pause-ms says',
  options: z.object({}),
  create: () => ({ name: 'pause', onStep: () => new Promise((r) => setTimeout(r, Number(fs.readFileSync(${JSON.stringify(pause)}, 'utf8')))) }),
});
`);
  const samples = path.join(dir, 'runs/tiny/main/samples.jsonl');
  const stepsDone = () => (fs.existsSync(samples) ? Math.max(0, ...fs.readFileSync(samples, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).step as number)) : 0);
  t.is((await runCli(t, dir, 'run', ...q)).code, 0);

  const w1 = startCli(t, dir, ['worker', ...q, '--lock-timeout', '10']);
  await waitFor(() => stepsDone() >= 1, 60_000, 'the first step');
  await redis.stop();
  await new Promise((r) => setTimeout(r, 1500));
  await redis.start();
  const before = stepsDone();
  await waitFor(() => stepsDone() > before, 30_000, 'a step after the restart');
  const running = (await status(t, dir, redis.url))[0]!;
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
  t.like((await status(t, dir, redis.url))[0], { state: 'cancelled' });

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
  t.like((await status(t, dir, redis.url)).find((r) => r.state !== 'cancelled'), { state: 'waiting', attempts: '0/3' });

  fs.writeFileSync(pause, '0');
  const w2 = await runCli(t, dir, 'worker', ...q, '--until-empty');
  t.is(w2.code, 0, w2.stderr);
  t.regex(w2.stderr, new RegExp(`\\[tiny/main\\] resumed from .*step-${saved.step} at step ${saved.step}`));
  const done = readJson(path.join(dir, 'runs/tiny/main/summary.json'));
  t.deepEqual([done.status, done.step], ['done', 20]);
  // Every step's samples once: the samples file equals an uninterrupted run's.
  t.deepEqual(fs.readFileSync(samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step), Array.from({ length: 40 }, (_, i) => Math.floor(i / 2) + 1));
});
