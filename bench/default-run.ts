/**
 * The embedded default, end to end: wall time of `detox-lab run` (60 PPO steps, evaluation before and after) with
 * one worker and the JS matmul (the engine's single-core path) against the configured default (`workers` and
 * `matmul` as in .detoxrc.json, i.e. every core and the native matmul when it was built), each in a fresh process
 * and a fresh run folder, one after the other. Also prints each run's toxicity after training, so a faster run that
 * learned something else shows.
 *
 * Run: `npm run bench -- default` (several minutes). BENCH_DEFAULT_STEPS=N shortens both runs to N steps.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One measured run of the default experiment. */
interface DefaultRunFigures {
  label: string;
  settings: string[];
  wallSeconds: number;
  steps: number;
  toxicityAfter?: number;
  backendLine?: string;
}

function runOnce(label: string, settings: string[], steps: number | undefined): DefaultRunFigures {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-bench-default-'));
  try {
    const args = [
      'bin/detox-lab.js',
      'run',
      '--set',
      `runsDir=${runs}`,
      ...(steps ? ['--set', `train.steps=${steps}`] : []),
      ...settings.flatMap((s) => ['--set', s]),
    ];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    const wallSeconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`default run (${label}) failed with exit ${r.status}:\n${r.stderr.slice(-2000)}`);
    const summaryFile = path.join(runs, 'default', 'main', 'summary.json');
    const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { step: number; evalAfter?: { toxicity: { mean: number } } };
    const backendLine = r.stderr.split('\n').find((l) => /matmul/.test(l));
    return { label, settings, wallSeconds, steps: summary.step, toxicityAfter: summary.evalAfter?.toxicity.mean, backendLine };
  } finally {
    fs.rmSync(runs, { recursive: true, force: true });
  }
}

/** Runs the default twice (single-core path, then the configured default) and prints both and the speed-up. */
export async function benchDefaultRun(): Promise<DefaultRunFigures[]> {
  const steps = process.env.BENCH_DEFAULT_STEPS ? Number(process.env.BENCH_DEFAULT_STEPS) : undefined;
  if (steps !== undefined && (!Number.isInteger(steps) || steps < 1)) {
    throw new Error(`BENCH_DEFAULT_STEPS must be a positive integer, got ${JSON.stringify(process.env.BENCH_DEFAULT_STEPS)}`);
  }
  console.log(`embedded default (${steps ?? 'all'} steps), ${os.availableParallelism()} cores; each run in a fresh process:`);
  const rows = [runOnce('1 worker, JS matmul', ['workers=1', 'matmul=js'], steps), runOnce('configured default', [], steps)];
  for (const r of rows) {
    console.log(
      `  ${r.label.padEnd(22)} ${r.wallSeconds.toFixed(1).padStart(7)} s for ${r.steps} steps` +
        `${r.toxicityAfter !== undefined ? `, toxicity after ${r.toxicityAfter.toFixed(4)}` : ''}` +
        `${r.backendLine ? `  [${r.backendLine.trim()}]` : ''}`,
    );
  }
  console.log(`  speed-up: ${(rows[0]!.wallSeconds / rows[1]!.wallSeconds).toFixed(2)}x`);
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await benchDefaultRun();
}
