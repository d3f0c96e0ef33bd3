/**
 * The run-folder guarantees end to end (README "Runs on disk"): one writer, --dry-run writes nothing, nothing moved
 * aside unasked, a finished run is not run again, resume == uninterrupted (summary, samples, every TensorBoard scalar)
 * after a kill -9, complete-or-ignored checkpoints, and --set on resume only for the allowed settings.
 */
import test from 'ava';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { readScalars } from '../../core/logging/tfevents.js';
import { ROOT } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');
const cli = (cwd: string, args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const RUN = 'runs/tiny/main';
const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, RUN, rel), 'utf8');
const listing = (dir: string) => fs.readdirSync(path.join(dir, 'runs/tiny')).sort();

/** A hook plugin that, when PAUSE_MARKER is set, writes that file at step `step` and waits there (to be killed). */
const PAUSE_HOOK = `import fs from 'node:fs';
import { definePlugin, z } from '${pathToFileURL(path.join(ROOT, 'dist/core/index.js')).href}';
export default definePlugin({
  kind: 'hook', name: 'pause-at-step', description: 'waits at a step while PAUSE_MARKER is set', options: z.object({ step: z.number().int() }),
  create: (o) => ({
    name: 'pause-at-step',
    async onStep(r) {
      if (!process.env.PAUSE_MARKER || r.step !== o.step) return;
      fs.writeFileSync(process.env.PAUSE_MARKER, String(process.pid));
      await new Promise((resolve) => setTimeout(resolve, 120_000));
    },
  }),
});
`;

const eightSteps = {
  workers: 1,
  train: { steps: 8, checkpointEvery: 4, sampleEvery: 1, progress: false },
  eval: { maxNewTokens: 6, batchSize: 4 },
};

async function pausingProject(): Promise<string> {
  const dir = await tinyProject((p) => ({
    ...tinyExperiment(p, eightSteps),
    plugins: ['./pause-hook.mjs'],
    hooks: [{ type: 'pause-at-step', step: 6 }],
  }));
  fs.writeFileSync(path.join(dir, 'pause-hook.mjs'), PAUSE_HOOK);
  return dir;
}

/** Runs `detox-lab run` until the pause hook is reached (step 6, after the step-4 checkpoint), then kill -9. */
async function runAndKill(dir: string): Promise<void> {
  const marker = path.join(dir, 'paused');
  const child = spawn(process.execPath, [CLI, 'run'], { cwd: dir, stdio: 'ignore', env: { ...process.env, PAUSE_MARKER: marker } });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 100_000;
  while (!fs.existsSync(marker) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGKILL');
  await exited;
  if (!fs.existsSync(marker)) throw new Error('the run never reached the pause');
}

/** summary.json without what depends on the clock or the process. */
function comparableSummary(dir: string): Record<string, unknown> {
  const s = JSON.parse(read(dir, 'summary.json')) as Record<string, unknown>;
  const figures = (o: unknown) =>
    Object.fromEntries(Object.entries(o as Record<string, number>).filter(([k]) => !/^(time|memory)\//.test(k)));
  for (const k of ['elapsedMs', 'peakRssBytes', 'finishedAt', 'runDir']) delete s[k];
  return { ...s, checkpoint: path.relative(dir, String(s.checkpoint)), final: figures(s.final), lastK: figures(s.lastK) };
}

test('kill -9 after the step-4 checkpoint of an 8-step run, then --resume: summary, samples and every TensorBoard scalar equal the uninterrupted run', async (t) => {
  const [a, b] = await Promise.all([pausingProject(), pausingProject()]);
  const whole = new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run'], { cwd: a, stdio: 'ignore' });
    child.once('exit', (code) => resolve(code));
  });
  await runAndKill(b);
  t.is(await whole, 0);
  t.true(fs.existsSync(path.join(b, RUN, '.lock')), 'the killed run left its lock');
  const lines = read(b, 'samples.jsonl')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number });
  t.true(
    lines.some((l) => l.step > 4),
    'the killed run had logged steps after its checkpoint',
  );

  const r = cli(b, ['run', '--resume', RUN]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /taking over the lock of .* left by pid \d+ .*no longer running/);
  t.regex(r.stderr, /cut the run's outputs back to step 4: \d+ sample lines/);
  t.regex(r.stderr, /resumed from .*step-4 at step 4/);
  t.false(fs.existsSync(path.join(b, RUN, '.lock')), 'the lock is released at the end');

  t.deepEqual(comparableSummary(b), comparableSummary(a));
  t.is(read(b, 'samples.jsonl'), read(a, 'samples.jsonl'));
  const curves = (dir: string) => readScalars(path.join(dir, RUN));
  const ca = curves(a);
  const cb = curves(b);
  t.deepEqual([...cb.keys()].sort(), [...ca.keys()].sort());
  for (const [tag, pa] of ca) {
    const pb = cb.get(tag)!;
    t.deepEqual(
      pb.map((p) => p.step),
      pa.map((p) => p.step),
      `${tag}: steps`,
    );
    if (!/^(time|memory)\//.test(tag))
      t.deepEqual(
        pb.map((p) => p.value),
        pa.map((p) => p.value),
        `${tag}: values`,
      );
  }
  t.deepEqual(
    ca.get('objective/kl')!.map((p) => p.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
});

test('one writer: a live lock refuses the start and the resume (exit 2), the folder untouched', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { workers: 1, train: { steps: 1, checkpointEvery: 0, progress: false }, eval: { enabled: false } }),
  );
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    fs.mkdirSync(path.join(dir, RUN), { recursive: true });
    fs.writeFileSync(
      path.join(dir, RUN, '.lock'),
      JSON.stringify({ pid: sleeper.pid, host: (await import('node:os')).hostname(), command: 'run', startedAt: 'now' }),
    );
    const r = cli(dir, ['run']);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`error: runs/tiny/main is in use by pid ${sleeper.pid} on .*wait for it to finish or stop it`));
    t.deepEqual(fs.readdirSync(path.join(dir, RUN)), ['.lock']);
    fs.writeFileSync(path.join(dir, RUN, '.lock'), JSON.stringify({ pid: 4242, host: 'elsewhere', command: 'run', startedAt: 'then' }));
    const r3 = cli(dir, ['run']);
    t.is(r3.code, 2);
    t.regex(
      r3.stderr,
      /locked by pid 4242 on elsewhere .*which this machine cannot check; if that process is gone, delete runs\/tiny\/main\/\.lock/,
    );
  } finally {
    sleeper.kill();
  }
});

test('re-running: --dry-run writes nothing, a finished run is not run again, a failed --fresh start moves nothing, another config is refused', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, {
      workers: 1,
      train: { steps: 2, checkpointEvery: 1, keepCheckpoints: 1, progress: false },
      eval: { enabled: false },
    }),
  );
  const dry = cli(dir, ['run', '--dry-run']);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stderr, /config is valid; a run would start in runs\/tiny\/main; nothing was written/);
  t.false(fs.existsSync(path.join(dir, 'runs')), '--dry-run writes nothing');

  t.is(cli(dir, ['run']).code, 0);
  t.deepEqual(fs.readdirSync(path.join(dir, RUN, 'checkpoints')), ['step-2'], 'train.keepCheckpoints 1 keeps the newest only');
  t.true(fs.existsSync(path.join(dir, RUN, 'checkpoints/step-2/manifest.json')));
  const config0 = read(dir, 'resolved-config.json');
  const summary0 = read(dir, 'summary.json');

  const dry2 = cli(dir, ['run', '--dry-run', '--set', 'seed=7']);
  t.is(dry2.code, 0);
  t.regex(dry2.stderr, /a run would be refused: runs\/tiny\/main holds a run with another config \(seed: 0 → 7\)/);
  t.is(read(dir, 'resolved-config.json'), config0, '--dry-run leaves the run folder alone');

  const again = cli(dir, ['run']);
  t.is(again.code, 0);
  t.regex(again.stderr, /already holds a finished run \(summary\.json\): nothing to do; --fresh runs it again/);
  t.is(read(dir, 'summary.json'), summary0);

  const more = cli(dir, ['run', '--set', 'train.steps=3']);
  t.is(more.code, 0, more.stderr);
  t.regex(more.stderr, /holds a run of this experiment: resuming it from step 2/);
  t.is(JSON.parse(read(dir, 'summary.json')).step, 3, 'raising train.steps continues a finished run');
  const summary1 = read(dir, 'summary.json');

  const other = cli(dir, ['run', '--set', 'optimiser.learningRate=0.01']);
  t.is(other.code, 2);
  t.regex(other.stderr, /holds a run with another config \(optimiser\.learningRate: 0\.001 → 0\.01\); --fresh starts over/);

  const threads = cli(dir, ['run', '--set', 'workers=2']);
  t.is(threads.code, 2, 'another workers count is another run (it changes the float path)');
  t.regex(
    threads.stderr,
    /another config \(workers: 1 → 2\); .*--set experiment=<name> runs it in its own folder, or --resume runs\/tiny\/main continues it/,
  );

  const failed = cli(dir, ['run', '--fresh', '--set', 'backend=tensorflow']);
  t.is(failed.code, 2);
  t.regex(failed.stderr, /backend: /);
  t.deepEqual(listing(dir), ['main'], 'a start that fails moves nothing aside');
  t.is(read(dir, 'summary.json'), summary1);

  const fresh = cli(dir, ['run', '--fresh']);
  t.is(fresh.code, 0, fresh.stderr);
  t.regex(fresh.stderr, /previous run moved to runs\/tiny\/main\.old-/);
  t.is(listing(dir).length, 2);
  const second = cli(dir, ['run', '--fresh']);
  t.is(second.code, 2);
  t.regex(second.stderr, /already holds a previous copy: delete it, or add --keep-old to keep both/);
  t.is(listing(dir).length, 2);
  t.is(cli(dir, ['run', '--fresh', '--keep-old']).code, 0);
  t.is(listing(dir).length, 3);
});

test("resume: only allowed --set, the checkpoint's config is enforced, incomplete checkpoints are skipped by name, leftovers removed", async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { workers: 1, train: { steps: 3, checkpointEvery: 1, progress: false }, eval: { enabled: false } }),
  );
  t.is(cli(dir, ['run', '--set', 'train.steps=2']).code, 0);
  const ck = (n: number) => path.join(dir, RUN, 'checkpoints', `step-${n}`);

  const bad = cli(dir, ['run', '--resume', RUN, '--set', 'seed=3']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--set seed: cannot change when resuming .*allowed on --resume: train\.steps, /);

  const resolved = JSON.parse(read(dir, 'resolved-config.json'));
  fs.writeFileSync(
    path.join(dir, RUN, 'resolved-config.json'),
    JSON.stringify({ ...resolved, optimiser: { ...resolved.optimiser, learningRate: 0.5 } }),
  );
  const edited = cli(dir, ['run', '--resume', RUN]);
  t.is(edited.code, 2);
  t.regex(edited.stderr, /the config differs from the one .*step-2 was trained with \(optimiser\.learningRate: 0\.001 → 0\.5\)/);
  fs.writeFileSync(path.join(dir, RUN, 'resolved-config.json'), JSON.stringify(resolved));

  // step-2 damaged (same size, other bytes); a half-written leftover folder.
  const opt = path.join(ck(2), 'optimiser.safetensors');
  const bytes = fs.readFileSync(opt);
  bytes[bytes.length - 1] ^= 0xff;
  fs.writeFileSync(opt, bytes);
  fs.mkdirSync(path.join(dir, RUN, 'checkpoints/.tmp-step-9-123'), { recursive: true });
  const r = cli(dir, ['run', '--resume', RUN, '--set', 'train.steps=3']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /skipped incomplete checkpoint .*step-2: optimiser\.safetensors does not match its sha256 in the manifest/);
  t.regex(r.stderr, /removed unfinished checkpoint writes: \.tmp-step-9-123/);
  t.regex(r.stderr, /resumed from .*step-1 at step 1/);
  t.false(fs.existsSync(path.join(dir, RUN, 'checkpoints/.tmp-step-9-123')));
  t.is(JSON.parse(read(dir, 'summary.json')).step, 3);
  t.is(JSON.parse(read(dir, 'resolved-config.json')).train.steps, 3, 'the allowed change is recorded');

  for (const n of [1, 2, 3]) fs.rmSync(path.join(ck(n), 'policy', 'model.safetensors'));
  const none = cli(dir, ['run', '--resume', RUN]);
  t.is(none.code, 2);
  t.regex(none.stderr, /no complete checkpoint to continue from \(incomplete: .*step-3: missing policy\/model\.safetensors/);
});

test('a run folder written before a defaulted field existed (no eval.every, no built-in hook entries) is still the same run: re-run and --resume go on', async (t) => {
  const dir = await tinyProject((p) =>
    tinyExperiment(p, { workers: 1, train: { steps: 3, checkpointEvery: 1, progress: false }, eval: { enabled: false } }),
  );
  t.is(cli(dir, ['run', '--set', 'train.steps=1']).code, 0);
  // Rewrite the recorded configs as an older version wrote them: without the fields added since.
  const older = (c: Record<string, unknown>) => {
    const { every: _every, ...evalRest } = c.eval as Record<string, unknown>;
    const hooks = (c.hooks as { type: string }[]).filter((h) => !['tensorboard', 'samples', 'console'].includes(h.type));
    return { ...c, eval: evalRest, hooks };
  };
  const resolvedPath = path.join(dir, RUN, 'resolved-config.json');
  const resolved = JSON.parse(fs.readFileSync(resolvedPath, 'utf8'));
  t.true('every' in resolved.eval && resolved.hooks.length === 3, 'today the recorded config has eval.every and the three built-in hooks');
  fs.writeFileSync(resolvedPath, JSON.stringify(older(resolved)));
  const statePath = path.join(dir, RUN, 'checkpoints/step-1/trainer-state.json');
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  fs.writeFileSync(statePath, JSON.stringify({ ...state, config: older(state.config) }));
  const manifestPath = path.join(path.dirname(statePath), 'manifest.json'); // as the older version wrote it: matching
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  manifest.files['trainer-state.json'] = {
    bytes: fs.statSync(statePath).size,
    sha256: createHash('sha256').update(fs.readFileSync(statePath)).digest('hex'),
  };
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));

  const dry = cli(dir, ['run', '--dry-run']);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stderr, /a run would resume the run in runs\/tiny\/main/, 'the older run is this experiment (raising train.steps goes on)');
  const more = cli(dir, ['run', '--set', 'train.steps=2']);
  t.is(more.code, 0, more.stderr);
  t.regex(more.stderr, /resuming it from step 1/);
  const resumed = cli(dir, ['run', '--resume', RUN, '--set', 'train.steps=3']);
  t.is(resumed.code, 0, resumed.stderr);
  t.is(JSON.parse(read(dir, 'summary.json')).step, 3);

  // A real difference in an older folder is still refused, and named.
  const again = JSON.parse(fs.readFileSync(resolvedPath, 'utf8'));
  fs.writeFileSync(resolvedPath, JSON.stringify(older({ ...again, seed: 5 })));
  const other = cli(dir, ['run']);
  t.is(other.code, 2);
  t.regex(other.stderr, /holds a run with another config \(seed: 5 → 0\)/);
});
