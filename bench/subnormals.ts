/**
 * How many of the values the matrix products read are subnormal floats (which many x86-64 CPUs, Intel's in
 * particular, process with a microcode assist of ~100 cycles per operation; WebAssembly cannot switch them off).
 * Runs `train.steps` = 2 of the embedded default on one thread with the JS matmul and evaluation off, in a fresh
 * process with DETOX_COUNT_SUBNORMALS set (core/model/wasm/subnormal-count.ts), and prints the totals and the shapes with
 * the most. Run: `npm run bench -- subnormals` (about a minute).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Counts {
  values: number;
  subnormal: number;
  shapes: Record<string, { calls: number; values: number; subnormal: number }>;
}

export async function benchSubnormals(): Promise<Counts> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-bench-subnormals-'));
  try {
    const out = path.join(dir, 'counts.json');
    const settings = [`runsDir=${dir}`, 'train.steps=2', 'eval.enabled=false', 'workers=1', 'matmul=js', 'train.progress=false'];
    const r = spawnSync(process.execPath, ['bin/detox-lab.js', 'run', ...settings.flatMap((s) => ['--set', s])], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, DETOX_COUNT_SUBNORMALS: out },
    });
    if (r.status !== 0) throw new Error(`subnormal count run failed with exit ${r.status}:\n${r.stderr.slice(-2000)}`);
    const counts = JSON.parse(fs.readFileSync(out, 'utf8')) as Counts;
    const M = (x: number) => `${(x / 1e6).toFixed(1)} M`;
    console.log(
      `embedded default, 2 PPO steps (workers 1, JS matmul): ${M(counts.subnormal)} of the ${M(counts.values)} values read by matrix products are subnormal (${((100 * counts.subnormal) / counts.values).toFixed(3)}%)`,
    );
    const top = Object.entries(counts.shapes)
      .filter(([, c]) => c.subnormal > 0)
      .slice(0, 8);
    for (const [shape, c] of top)
      console.log(`  ${shape.padEnd(28)} ${String(c.calls).padStart(6)} calls  ${M(c.subnormal).padStart(9)} of ${M(c.values)}`);
    if (top.length === 0) console.log('  (no product read a subnormal value)');
    return counts;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
