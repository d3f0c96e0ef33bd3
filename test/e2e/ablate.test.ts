import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { readScalars } from '../../core/logging/tfevents.js';
import { readSafetensors } from '../../core/model/io/safetensors.js';
import { ROOT } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const count = (s: string, re: RegExp) => (s.match(new RegExp(re, 'g')) ?? []).length;

const GRID_ARMS = ['transform-raw-logit_seed-0', 'transform-raw-logit_seed-1', 'transform-softmax_seed-0', 'transform-softmax_seed-1'];

test('a grid runs every arm as a child process; compare prints the table and writes the plot; re-running skips and resumes', async (t) => {
  // workers pinned: 'auto' would give side-by-side arms fewer threads than the single run below (core/util/cores.ts).
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { workers: 1, ablate: { 'reward.transform.type': ['raw-logit', 'softmax'], seed: [0, 1] } }),
  );
  const r = cli(dir, 'run', '--parallel', '2');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /grid "tiny" from \.detoxrc\.json: 4 arms \(product: reward\.transform\.type ×2, seed ×2\) → runs\/tiny/);
  t.regex(r.stderr, /running 4 arms, 2 at a time/);
  for (const arm of GRID_ARMS) {
    t.regex(r.stdout, new RegExp(`\\| ${arm} +\\| done +\\| 0 +\\| \\d+\\.\\d s +\\| 3 steps \\|`));
    t.regex(r.stderr, new RegExp(`\\[${arm}\\] eval after: toxicity`), 'child lines are streamed with the arm prefix');
    const run = path.join(dir, 'runs/tiny', arm);
    const resolved = readJson(path.join(run, 'resolved-config.json'));
    t.false('ablate' in resolved);
    t.is(resolved.seed, Number(arm.slice(-1)));
    t.is(resolved.reward.transform.type, arm.includes('softmax') ? 'softmax' : 'raw-logit');
    t.deepEqual(readJson(path.join(run, 'arm.json')).settings, {
      'reward.transform.type': resolved.reward.transform.type,
      seed: resolved.seed,
    });
    t.is(readJson(path.join(run, 'summary.json')).status, 'done');
    t.deepEqual(
      readScalars(run)
        .get('objective/kl')!
        .map((p) => p.step),
      [1, 2, 3],
    );
  }
  // An arm is exactly the single run with the same settings.
  const single = cli(
    dir,
    'run',
    '--set',
    'ablate={}',
    '--set',
    'experiment=single',
    '--set',
    'reward.transform.type=softmax',
    '--set',
    'seed=1',
  );
  t.is(single.code, 0, single.stderr);
  const samples = (run: string) => fs.readFileSync(path.join(dir, run, 'samples.jsonl'), 'utf8');
  t.is(samples('runs/tiny/transform-softmax_seed-1'), samples('runs/single/main'));

  // compare: table (md, csv, json) and plot.
  const finals = GRID_ARMS.map(
    (arm) =>
      readScalars(path.join(dir, 'runs/tiny', arm))
        .get('env/reward_mean')!
        .at(-1)!.value,
  );
  const c = cli(dir, 'compare', 'runs/tiny');
  t.is(c.code, 0, c.stderr);
  const mean = (a: number, b: number) => ((a + b) / 2).toFixed(4);
  t.regex(
    c.stdout,
    new RegExp(
      `^\\| transform-raw-logit +\\| 2 \\| 0 1 +\\| done +\\| 3 +\\| ${mean(finals[0]!, finals[1]!).replace('.', '\\.')} ± \\d+\\.\\d{4} +\\|`,
      'm',
    ),
  );
  t.regex(
    c.stdout,
    new RegExp(
      `^\\| transform-softmax +\\| 2 \\| 0 1 +\\| done +\\| 3 +\\| ${mean(finals[2]!, finals[3]!).replace('.', '\\.')} ± \\d+\\.\\d{4} +\\|`,
      'm',
    ),
  );
  t.regex(c.stderr, /4 arms; plot written to runs\/tiny\/compare\.svg/);
  const svg = fs.readFileSync(path.join(dir, 'runs/tiny/compare.svg'), 'utf8');
  t.is(count(svg, /<polyline class="curve"/), 3 * 4);
  t.is(count(svg, /class="marker eval-before"/), 4);
  t.is(count(svg, /class="marker eval-after"/), 4);
  const json = JSON.parse(cli(dir, 'compare', 'runs/tiny', '--format', 'json', '--no-plot').stdout);
  t.deepEqual(
    json.arms.map((a: { name: string }) => a.name),
    GRID_ARMS,
  );
  t.deepEqual(
    json.arms.map((a: { metrics: { reward_final: number } }) => a.metrics.reward_final),
    finals,
  );
  const summary = readJson(path.join(dir, 'runs/tiny', GRID_ARMS[0]!, 'summary.json'));
  t.is(json.arms[0].metrics.toxicity_after, summary.evalAfter.toxicity.mean);
  t.is(json.arms[0].metrics.peak_rss_mib, summary.peakRssBytes / 2 ** 20);
  const csv = cli(dir, 'compare', 'runs/tiny', '--format', 'csv', '--plot', 'out/plot.svg');
  t.is(csv.stdout.trim().split('\n').length, 3);
  t.true(fs.existsSync(path.join(dir, 'out/plot.svg')));

  // Re-running: finished arms are skipped.
  const again = cli(dir, 'run', '--parallel', '2');
  t.is(again.code, 0, again.stderr);
  t.is(count(again.stderr, /finished before: skipped/), 4);
  t.is(count(again.stderr, /started \(pid/), 0);

  // An arm stopped after its step-2 checkpoint resumes from it and ends where the uninterrupted run ended.
  const arm = path.join(dir, 'runs/tiny', GRID_ARMS[0]!);
  const weights = async (d: string) => readSafetensors(path.join(d, 'policy/model.safetensors'));
  const want = await weights(path.join(arm, 'checkpoints/step-3'));
  fs.rmSync(path.join(arm, 'checkpoints/step-3'), { recursive: true });
  fs.writeFileSync(path.join(arm, 'summary.json'), JSON.stringify({ ...summary, status: 'interrupted', step: 2 }));
  const resumed = cli(dir, 'run', '--parallel', '2');
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`\\[${GRID_ARMS[0]}\\] resumed from .*step-2 at step 2`));
  t.is(count(resumed.stderr, /finished before: skipped/), 3);
  t.is(readJson(path.join(arm, 'summary.json')).status, 'done');
  const got = await weights(path.join(arm, 'checkpoints/step-3'));
  for (const [k, v] of want) t.deepEqual(Array.from(got.get(k)!.data), Array.from(v.data), k);

  // More steps resume every arm from its last checkpoint; another config refuses the grid (exit 2) unless --fresh,
  // which moves the old runs aside.
  const longer = cli(dir, 'run', '--set', 'train.steps=4', '--dry-run');
  t.is(longer.code, 0, longer.stderr);
  t.is(count(longer.stdout, /\| resume from step 3 \|/), 4);
  const changed = cli(dir, 'run', '--set', 'ppo.lam=0.9');
  t.is(changed.code, 2, changed.stderr);
  t.is(count(changed.stderr, /holds a run with another config \(ppo\.lam: 0\.95 → 0\.9\); --fresh starts over/), 4);
  t.regex(changed.stderr, /nothing was started: 4 arms cannot run as asked/);
  const fresh = cli(dir, 'run', '--fresh', '--set', 'ablate={"reward.transform.type":["softmax"],"seed":[1]}');
  t.is(fresh.code, 0, fresh.stderr);
  t.regex(
    fresh.stderr,
    /\[transform-softmax_seed-1\] previous run moved to runs\/tiny\/transform-softmax_seed-1\.old-[\dTZ-]+ \(--fresh\)/,
  );
  t.is(samples('runs/tiny/transform-softmax_seed-1'), samples('runs/single/main'));
  const after = JSON.parse(cli(dir, 'compare', 'runs/tiny', '--format', 'json', '--no-plot').stdout);
  t.deepEqual(
    after.arms.map((a: { name: string }) => a.name),
    GRID_ARMS,
    'moved-aside folders are left out',
  );
});

test('an invalid grid fails before any arm starts, naming the ablate entry; --dry-run only plans', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, {
      ablate: { 'reward.transform.type': ['raw-logit', 'sigmoid'], 'ppo.batchsize': [4, 8] },
    }),
  );
  const r = cli(dir, 'run');
  t.is(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 3, r.stderr);
  t.regex(
    lines[0]!,
    /^config error: \.detoxrc\.json: ppo\.batchsize: unknown key \(got 4\); allowed keys: batchSize, .* \[from ablate\["ppo\.batchsize"\] value 4; 2 of 4 arms: /,
  );
  t.regex(
    lines[1]!,
    /^config error: \.detoxrc\.json: ppo\.batchsize: unknown key \(got 8\); .* \[from ablate\["ppo\.batchsize"\] value 8; 2 of 4 arms: /,
  );
  t.regex(
    lines[2]!,
    /reward\.transform\.type: unknown reward-transform plugin "sigmoid"; known: log, raw-logit, softmax \[from ablate\["reward\.transform\.type"\] value "sigmoid"; 2 of 4 arms: transform-sigmoid_batchsize-4, transform-sigmoid_batchsize-8\]/,
  );
  t.false(fs.existsSync(path.join(dir, 'runs')), 'nothing written');
  const zip = cli(dir, 'run', '--set', 'ablate={"seed":[0,1],"ppo.lam":[0.9]}', '--set', 'ablateMode=zip');
  t.is(zip.code, 2);
  t.regex(zip.stderr, /config error: .*ablate: ablateMode "zip" needs lists of equal length \(got seed: 2, ppo\.lam: 1\)/);
  t.is(cli(dir, 'run', '--set', 'ablate={"seed":[0,1]}', '--parallel', '0').code, 2);
  const dry = cli(dir, 'run', '--set', 'ablate={"seed":[0,1]}', '--dry-run');
  t.is(dry.code, 0, dry.stderr);
  t.regex(
    dry.stdout,
    /\| seed-0 +\| seed=0 +\| start +\| runs\/tiny\/seed-0 +\|\n\| seed-1 +\| seed=1 +\| start +\| runs\/tiny\/seed-1 +\|/,
  );
  t.false(fs.existsSync(path.join(dir, 'runs')), 'a dry run writes nothing');
  const notRun = cli(dir, 'compare', 'runs/tiny');
  t.is(notRun.code, 2);
  t.regex(notRun.stderr, /error: runs\/tiny: no such folder/);
});

test('a failing arm is reported and the others go on (exit 1)', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, {
      eval: { enabled: false },
      ablate: {
        'generation.responseTokens': [
          [4, 7],
          [60, 63],
        ],
      },
    }),
  );
  const r = cli(dir, 'run', '--parallel', '2');
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /\| responseTokens-4-7 +\| done +\| 0 +\|/);
  t.regex(r.stdout, /\| responseTokens-60-63 \| failed \| 2 +\| .* \| error: prompt .* leaves room for 2 besides up to 62 response tokens/);
  t.is(readJson(path.join(dir, 'runs/tiny/responseTokens-4-7/summary.json')).status, 'done');
  t.regex(r.stderr, /1 done, 0 skipped, 1 failed, 0 stopped/);
});

// Serial (AVA runs serial tests first): the other tests block this worker's event loop in spawnSync, which would
// hold back the stderr events this test reacts to.
test.serial('Ctrl-C reaches each running arm once and starts no new arm; re-running finishes the grid', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, {
      eval: { enabled: false },
      train: { steps: 6, checkpointEvery: 2, sampleEvery: 1, progress: false },
      ablate: { seed: [0, 1, 2] },
    }),
  );
  const child = spawn(process.execPath, [CLI, 'run', '--parallel', '2'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const code = await new Promise<number | null>((resolve) => {
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      // Both running arms are training (their interrupt handlers are installed): Ctrl-C the driver.
      if (!sent && count(stderr, /\] data: \d+ training/) === 2) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('close', (c) => resolve(c));
  });
  t.is(code, 130, stderr);
  t.regex(stderr, /SIGINT: no new arm starts; running arms stop after their current step and save/);
  t.is(count(stderr, /\[seed-[01]\] SIGINT: stopping after the current step and saving/), 2, 'forwarded once to each running arm');
  t.is(count(stderr, /quitting now/), 0);
  t.regex(stdout, /\| seed-2 \| not started \| — +\| — +\| interrupted before it started \|/);
  t.false(fs.existsSync(path.join(dir, 'runs/tiny/seed-2/summary.json')));
  const again = cli(dir, 'run', '--parallel', '2');
  t.is(again.code, 0, again.stderr);
  t.regex(again.stderr, /\[seed-2\] started/);
  for (const seed of [0, 1, 2]) {
    const s = readJson(path.join(dir, `runs/tiny/seed-${seed}/summary.json`));
    t.deepEqual([s.status, s.step], ['done', 6]);
  }
});
