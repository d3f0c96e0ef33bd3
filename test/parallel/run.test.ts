import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readScalars } from '../../core/logging/tfevents.js';
import { WORKER_FAULT_ENV } from '../../core/parallel/parallel-compute.js';
import { ROOT } from '../helpers/tmp.js';
import { interruptRun, tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('detox-lab run with workers: 2 trains, evaluates and writes every artefact; the same worker count repeats it exactly', async (t) => {
  const over = { workers: 2, train: { steps: 2, checkpointEvery: 1, sampleEvery: 1, progress: false } };
  const a = await tinyProject((p) => tinyExperiment(p, over));
  const b = await tinyProject((p) => tinyExperiment(p, over));
  const ra = cli(a, ['run']);
  t.is(ra.code, 0, ra.stderr);
  t.regex(ra.stderr, /workers: 2 threads, data parallel/);
  const run = path.join(a, 'runs/tiny/main');
  const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
  t.is(summary.status, 'done');
  t.is(summary.step, 2);
  t.is(summary.workers, 2);
  t.true(summary.evalBefore.toxicity.n > 0 && summary.evalAfter.toxicity.n > 0);
  for (const f of ['checkpoints/step-1/trainer-state.json', 'checkpoints/step-2/policy/model.safetensors', 'samples.jsonl']) {
    t.true(fs.existsSync(path.join(run, f)), f);
  }
  t.true(Number.isFinite(readScalars(run).get('ppo/loss/total')![1]!.value));
  const rb = cli(b, ['run']);
  t.is(rb.code, 0, rb.stderr);
  const lines = (dir: string) => fs.readFileSync(path.join(dir, 'runs/tiny/main/samples.jsonl'), 'utf8');
  t.is(lines(b), lines(a));
  const kl = (dir: string) =>
    readScalars(path.join(dir, 'runs/tiny/main'))
      .get('objective/kl')!
      .map((p) => p.value);
  t.deepEqual(kl(b), kl(a));
});

test('a worker crash stops the run with exit code 1, a message naming the worker and a resumable checkpoint of the step', async (t) => {
  const over = {
    workers: 2,
    train: { steps: 3, checkpointEvery: 0, sampleEvery: 1, progress: false },
    eval: { enabled: false, maxNewTokens: 6, batchSize: 4 },
  };
  const dir = await tinyProject((p) => tinyExperiment(p, over));
  // Rank 1 throws on its 3rd gradient request: during step 1's second epoch (2 mini-batches per epoch).
  const r = cli(dir, ['run'], { [WORKER_FAULT_ENV]: '1:gradients:3:throw' });
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    /stopped: worker thread 1 failed: injected test fault in gradients request 3; step 1 was finished on the main thread and saved to .*step-1/,
  );
  t.regex(r.stderr, /error: worker thread 1 failed/);
  const run = path.join(dir, 'runs/tiny/main');
  const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
  t.is(summary.status, 'failed');
  t.is(summary.step, 1);
  t.true(fs.existsSync(path.join(run, 'checkpoints/step-1/trainer-state.json')));
  const resumed = cli(dir, ['run', '--resume', 'runs/tiny/main']);
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, /resumed from .*step-1 at step 1/);
  t.is(JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')).step, 3);
});

test('Ctrl-C with worker threads: the step finishes, a checkpoint is saved, exit code 130, no hang', async (t) => {
  const over = {
    workers: 2,
    train: { steps: 200, checkpointEvery: 0, sampleEvery: 10, progress: false },
    eval: { enabled: false, maxNewTokens: 6, batchSize: 4 },
  };
  const dir = await tinyProject((p) => tinyExperiment(p, over));
  const { code, stderr, stopMs } = await interruptRun(CLI, dir);
  t.is(code, 130, stderr);
  t.true(stopMs < 30_000, 'stopped promptly');
  t.regex(stderr, /workers: 2 threads/);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'runs/tiny/main/summary.json'), 'utf8'));
  t.is(summary.status, 'interrupted');
  t.true(fs.existsSync(path.join(dir, `runs/tiny/main/checkpoints/step-${summary.step}/trainer-state.json`)));
});
