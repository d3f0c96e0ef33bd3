import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';
import { freePort, startRedis } from '../helpers/redis.js';
import { missing, queueRows, skipQueueTests, SMALL } from '../helpers/queue.js';
import { runCli } from '../helpers/procs.js';
import { ROOT } from '../helpers/tmp.js';
import { buildProgram } from '../../core/cli/main.js';
import type { UserError } from '../../core/exit.js';
import { parseQueueUrl } from '../../core/queue/connection.js';
import { planArms } from '../../core/queue/jobs.js';
import { enqueueGrid } from '../../core/queue/enqueue.js';
import { queueCancel } from '../../core/queue/status.js';
import { builtinPlugins } from '../../plugins/index.js';
import { PassThrough } from 'node:stream';

if (skipQueueTests) console.log(`queue tests with Redis skipped: ${missing}`);
const redisTest = skipQueueTests ? test.skip : test;
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const count = (s: string, re: RegExp) => (s.match(new RegExp(re, 'g')) ?? []).length;

test('--queue addresses: parsed, or a usage error naming the flag, the value and the form', (t) => {
  t.like(parseQueueUrl('redis://10.0.0.5:6380/2'), { host: '10.0.0.5', port: 6380, db: 2, tls: false });
  t.like(parseQueueUrl('rediss://user:s%40cret@queue.lab:6379'), {
    host: 'queue.lab',
    username: 'user',
    password: 's@cret',
    tls: true,
    display: 'rediss://user:***@queue.lab:6379',
  });
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
  t.regex(
    r2.stderr,
    new RegExp(
      `error: --queue redis://127\\.0\\.0\\.1:${port}: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); is redis-server running there .*\\(start one with: redis-server --port ${port}\\)`,
    ),
  );
  t.false(fs.existsSync(path.join(dir, 'runs')), 'nothing written');
  // The other checks, in this process (each is a UserError: exit code 2, before Redis is contacted).
  const usage = async (...args: string[]) => {
    const e = await t.throwsAsync(
      buildProgram()
        .exitOverride()
        .parseAsync(['node', 'detox-lab', ...args]),
      { name: 'UserError' },
    );
    t.is((e as UserError).exitCode, 2);
    return e!.message;
  };
  const q = ['--queue', `redis://127.0.0.1:${port}`];
  t.is(await usage('worker', ...q, '--concurrency', '0'), '--concurrency: expected an integer ≥ 1, got "0"');
  t.is(await usage('worker', ...q, '--lock-timeout', 'soon'), '--lock-timeout: expected a number of seconds ≥ 1, got "soon"');
  t.regex(await usage('run', path.join(dir, '.detoxrc.json'), ...q, '--parallel', '2'), /--parallel does not apply with --queue/);
  t.is(await usage('run', path.join(dir, '.detoxrc.json'), ...q, '--retries', '-1'), '--retries: expected an integer ≥ 0, got "-1"');
  t.regex(await usage('run', ...q, '--resume', dir), /^--resume runs one folder here; with --queue, enqueue the grid again/);
  t.regex(await usage('queue', 'cancel', ...q), /^queue cancel: name the experiment whose grid to cancel .* or give --all/);
  const help = await runCli(t, ROOT, 'worker', '--help');
  t.is(help.code, 0);
  t.regex(help.stdout, /--lock-timeout <seconds> .*\(default: "30"\)/s);
  t.regex(help.stdout, /Delivery is at least once/);
  t.regex(
    buildProgram()
      .commands.find((c) => c.name() === 'run')!
      .helpInformation(),
    /-q, --queue <url> +enqueue the arms as jobs in Redis/,
  );
});

redisTest('refused, retried, failed and finished-before arms: each reported while the others go on', async (t) => {
  if (missing) return t.fail(`CI=true: ${missing}`);
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const q = ['--queue', redis.url];
  // Grid "tiny": one arm that runs, one that fails at run time (its responses do not fit the context).
  const dir = await tinyProject((p) => tinyExperiment(p, { ...SMALL, eval: { enabled: false } }));
  const experiment = (name: string, over: object) =>
    fs.writeFileSync(
      path.join(dir, `${name}.json`),
      JSON.stringify({ $import: './.detoxrc.json', experiment: name, ablate: { seed: [0] }, ...over }),
    );
  experiment('tiny', {
    ablate: {
      'generation.responseTokens': [
        [3, 5],
        [60, 63],
      ],
    },
  });
  experiment('changed', {});
  experiment('again', {});
  experiment('dropped', { ablate: { seed: [0, 1] } });

  const e1 = await runCli(t, dir, 'run', 'tiny.json', ...q, '--retries', '1', '--retry-delay', '0.5');
  t.is(e1.code, 0, e1.stderr);
  t.regex(e1.stderr, /queued grid "tiny" .*: 2 arms on .*, 1 retry per arm/);
  // (the other enqueues and the cancel run in this process: a CLI start costs seconds on a loaded machine)
  const address = parseQueueUrl(redis.url);
  const sink = () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d) => {
      text += d;
    });
    return { stream, text: () => text };
  };
  const enqueue = async (file: string) => {
    const plan = await planArms({ file: path.join(dir, file), cwd: dir, builtins: builtinPlugins });
    return enqueueGrid(plan, { address, set: [], retries: 2, retryDelayMs: 60_000, out: sink().stream, err: sink().stream });
  };
  const dup = await t.throwsAsync(enqueue('tiny.json'), { name: 'UserError' });
  t.is((dup as UserError).exitCode, 2);
  t.regex(
    dup!.message,
    /grid "tiny" already has 2 unfinished arm jobs in the queue: responseTokens-3-5 \(job [\w-]+\), responseTokens-60-63 \(job [\w-]+\); .*cancel them first: detox-lab queue cancel tiny/,
  );
  for (const name of ['changed', 'again', 'dropped']) t.is(await enqueue(`${name}.json`), 0);
  // Cancelled while waiting: the arms leave the queue.
  const cancelled = sink();
  t.is(await queueCancel(address, { experiment: 'dropped', err: cancelled.stream }), 0);
  t.is(count(cancelled.text(), /\[dropped\/seed-\d\] removed from the queue/), 2);
  // Edited after it was queued: refused by the worker.
  experiment('changed', { train: { steps: 3 } });
  // Finished elsewhere before a worker got to it (as after a re-delivery): not run again.
  const local = await runCli(t, dir, 'run', 'again.json');
  t.is(local.code, 0, local.stderr);

  const w = await runCli(t, dir, 'worker', ...q, '--until-empty', '--lock-timeout', '5');
  t.is(w.code, 0, w.stderr);
  t.regex(w.stderr, /\[changed\/seed-0\] job [\w-]+: refused: the arm's config changed since it was enqueued \(train\.steps: 2 → 3\)/);
  t.regex(w.stderr, /\[again\/seed-0\] finished before \(job [\w-]+, attempt 1 of 3\): not run again/);
  // An over-long prompt is bad input (the arm exits 2): reported failed at once, not retried.
  t.is(count(w.stderr, /\[tiny\/responseTokens-60-63\] started/), 1, 'bad input is not retried');
  t.regex(w.stderr, /grid "tiny" \(job [\w-]+\) finished: 1 arm done, 1 failed \(.*leaves room for 2 besides up to 62 response tokens/);
  t.regex(w.stderr, /grid "changed" \(job [\w-]+\) finished: 0 arms done, 1 failed/);
  t.is(readJson(path.join(dir, 'runs/tiny/responseTokens-3-5/summary.json')).status, 'done');
  t.false(fs.existsSync(path.join(dir, 'runs/changed/seed-0/summary.json')), 'the refused arm did not run');
  t.deepEqual(readJson(path.join(dir, 'runs/changed/seed-0/resolved-config.json')).train.steps, 2, 'its folder is left as it was');

  const rows = await queueRows(redis.url);
  const row = (e: string, a: string) => rows.find((r) => r.experiment === e && r.arm === a)!;
  t.like(row('tiny', 'responseTokens-3-5'), { state: 'done', step: 2, attempts: '1/2' });
  t.like(row('tiny', 'responseTokens-60-63'), { state: 'failed', attempts: '1/2' });
  t.regex(row('tiny', 'responseTokens-60-63').note!, /leaves room for 2 besides up to 62 response tokens/);
  t.like(row('changed', 'seed-0'), { state: 'failed', attempts: '1/3' });
  t.like(row('again', 'seed-0'), { state: 'done', note: 'finished before: not run again' });
  t.false(rows.some((r) => r.experiment === 'dropped'));
  const table = await runCli(t, dir, 'queue', 'status', 'tiny', ...q);
  t.regex(table.stdout, /\| tiny +\| responseTokens-3-5 +\| [\w-]{8} \| done +\| [\w.-]+:\d+ \| 2\/2 +\| — +\| 1\/2 +\| in \d+ s/);
  t.regex(table.stderr, /2 arms: 1 done, 0 running, 0 waiting, 1 failed, 0 cancelled/);
});
