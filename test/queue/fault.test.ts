import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors } from '../../core/model/io/safetensors.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';
import { startRedis } from '../helpers/redis.js';
import { missing, pauseHook, queueRows, skipQueueTests, SMALL, writePauseHook } from '../helpers/queue.js';
import { compareExperiment } from '../../core/compare/compare.js';
import { alive, runCli, startCli, waitFor, type Started } from '../helpers/procs.js';

if (skipQueueTests) console.log(`queue fault test skipped: ${missing}`);
const queueTest = skipQueueTests ? test.skip : test;

const ARMS = ['transform-raw-logit_seed-0', 'transform-raw-logit_seed-1', 'transform-softmax_seed-0', 'transform-softmax_seed-1'];
const count = (s: string, re: RegExp) => (s.match(new RegExp(re, 'g')) ?? []).length;

queueTest(
  'a worker killed with -9 mid-arm: another resumes the arm from its checkpoint; the grid equals a local --parallel 1 run',
  async (t) => {
    if (missing) return t.fail(`CI=true: ${missing}`);
    const t0 = Date.now();
    const at = (what: string) => t.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    // workers pinned to 1: the figures are then the same whatever runs side by side.
    // As small as an arm gets: the test is about where its steps run, not about what they learn.
    // From step 3 on, a hook waits after each step (1 s in the queued grid until the kill, nothing in the local
    // one): the kill lands between the step-2 checkpoint and the end of the arm, however loaded the machine is.
    const over = {
      ...SMALL,
      ...pauseHook(3),
      train: { steps: 4, checkpointEvery: 2, sampleEvery: 1, progress: false },
      ablate: { 'reward.transform.type': ['raw-logit', 'softmax'], seed: [0, 1] },
    };
    const dir = await tinyProject((p) => tinyExperiment(p, over));
    const ref = await tinyProject((p) => tinyExperiment(p, over));
    const pause = writePauseHook(dir, 1000);
    writePauseHook(ref, 0);

    // The reference: the same grid run locally, one arm at a time, alongside.
    const local = startCli(t, ref, ['run', '--parallel', '1']);
    const enq = await runCli(t, dir, 'run', '--queue', redis.url, '--retry-delay', '1');
    t.is(enq.code, 0, enq.stderr);
    t.regex(enq.stderr, new RegExp(`queued grid "tiny" \\(job [\\w-]+\\): 4 arms on ${redis.url}`));
    // The workers run in the project's models folder and name the shared runs folder, as machines mounting it would.
    const worker = () =>
      startCli(t, path.join(dir, 'models'), [
        'worker',
        '--queue',
        redis.url,
        '--lock-timeout',
        '3',
        '--until-empty',
        '--runs-dir',
        path.join(dir, 'runs'),
      ]);
    const workers: Started[] = [worker(), worker()];

    // The arm a worker runs now: the last one it started and has not finished.
    const current = (w: Started) => {
      const started = [...w.stderr().matchAll(/\[tiny\/(\S+)\] started \(pid (\d+)\)/g)].at(-1);
      if (!started || new RegExp(`\\[tiny/${started[1]}\\] (done|failed|interrupted) in`).test(w.stderr())) return undefined;
      return { arm: started[1]!, pid: Number(started[2]) };
    };
    // Kill a worker whose arm is past its step-2 checkpoint and not finished (a step 3 sample is written).
    let victim: { worker: Started; arm: string; pid: number } | undefined;
    await waitFor(
      () => {
        for (const w of workers) {
          const c = current(w);
          if (!c) continue;
          const run = path.join(dir, 'runs/tiny', c.arm);
          const samples = path.join(run, 'samples.jsonl');
          if (
            fs.existsSync(path.join(run, 'checkpoints/step-2/trainer-state.json')) &&
            !fs.existsSync(path.join(run, 'summary.json')) &&
            fs.existsSync(samples) &&
            /"step":3/.test(fs.readFileSync(samples, 'utf8'))
          ) {
            victim = { worker: w, ...c };
            return true;
          }
        }
        return false;
      },
      60_000,
      'an arm past its step-2 checkpoint',
    );
    at(`killing the worker running ${victim!.arm}`);
    victim!.worker.proc.kill('SIGKILL');
    t.is((await victim!.worker.exit).signal, 'SIGKILL');
    // Its arm process notices its worker is gone and stops at once: the folder never has two writers.
    await waitFor(() => !alive(victim!.pid), 5000, "the killed worker's arm process to stop");
    fs.writeFileSync(pause, '0');
    const killedAt = fs.readFileSync(path.join(dir, 'runs/tiny', victim!.arm, 'samples.jsonl'), 'utf8');
    t.false(fs.existsSync(path.join(dir, 'runs/tiny', victim!.arm, 'summary.json')), 'killed mid-arm');

    // A replacement machine joins; the survivors finish the grid, the killed worker's arm included.
    workers.push(worker());
    const survivors = workers.filter((w) => w !== victim!.worker);
    for (const w of survivors) {
      const { code } = await w.exit;
      t.is(code, 0, w.stderr());
    }
    at('workers done');
    const logs = survivors.map((w) => w.stderr()).join('\n');
    t.regex(logs, new RegExp(`\\[tiny/${victim!.arm}\\] resumed from .*checkpoints/step-2 at step 2`));
    t.regex(logs, /grid "tiny" \(job [\w-]+\) finished: 4 arms done, 0 failed/);
    const all = workers.map((w) => w.stderr()).join('\n');
    for (const arm of ARMS) t.is(count(all, new RegExp(`\\[tiny/${arm}\\] done in`)), 1, `${arm} ran to completion once`);
    t.is(count(all, /finished before/), 0);
    t.true(killedAt.split('\n').length > 1);

    const rows = await queueRows(redis.url);
    t.deepEqual(
      rows.map((r) => [r.arm, r.state, r.step]).sort(),
      ARMS.map((a) => [a, 'done', 4]),
    );

    // Same figures as the local run: compare's table (but wall time and memory), the final weights, every sample.
    const localRun = await local.exit;
    at('local run done');
    t.is(localRun.code, 0, local.stderr());
    // (what `detox-lab compare runs/tiny --format json` prints, computed in this process)
    const figures = (d: string) =>
      compareExperiment(path.join(d, 'runs/tiny')).arms.map((a) => ({
        name: a.name,
        metrics: Object.fromEntries(Object.entries(a.metrics).filter(([k]) => k !== 'wall_s' && k !== 'peak_rss_mib')),
      }));
    const got = figures(dir);
    t.deepEqual(
      got.map((a) => a.name),
      ARMS,
    );
    t.deepEqual(got, figures(ref));
    for (const arm of ARMS) {
      const file = (d: string, f: string) => path.join(d, 'runs/tiny', arm, f);
      t.is(fs.readFileSync(file(dir, 'samples.jsonl'), 'utf8'), fs.readFileSync(file(ref, 'samples.jsonl'), 'utf8'), `${arm} samples`);
      const a = await readSafetensors(file(dir, 'checkpoints/step-4/policy/model.safetensors'));
      const b = await readSafetensors(file(ref, 'checkpoints/step-4/policy/model.safetensors'));
      for (const [k, v] of b) t.deepEqual(Array.from(a.get(k)!.data), Array.from(v.data), `${arm} ${k}`);
      const summary = (d: string) => {
        const s = JSON.parse(fs.readFileSync(file(d, 'summary.json'), 'utf8'));
        return { status: s.status, step: s.step, final: s.final, lastK: s.lastK, evalBefore: s.evalBefore, evalAfter: s.evalAfter };
      };
      const { final: _f, lastK: _l, ...figuresA } = summary(dir);
      const { final: _g, lastK: _m, ...figuresB } = summary(ref);
      t.deepEqual(figuresA, figuresB, `${arm} summary`);
      // Step times differ from run to run; the other stats do not.
      const stats = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('time/')));
      t.deepEqual(stats(summary(dir).lastK), stats(summary(ref).lastK), `${arm} last-10 stats`);
    }
  },
);
