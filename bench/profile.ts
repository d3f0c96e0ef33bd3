/**
 * `npm run bench -- profile <section>`: runs one bench section in a child process under V8's sampling CPU profiler
 * (`node --cpu-prof`), writes `bench-profiles/<section>-<time>.cpuprofile` and prints the 15 functions with the
 * most self time, so a slowdown on some CPU is located in minutes. wasm functions show as `wasm-function[i]`
 * of the kernel module: index i follows the builder order in core/model/wasm/simd.ts (kernelModuleBytes).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

/** Self time per function (name + file), most first, as fractions of all samples. */
function selfTimes(profile: CpuProfile): { name: string; share: number }[] {
  const byName = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    total += hits;
    const file = n.callFrame.url ? path.basename(n.callFrame.url.replace(/^file:\/\//, '')) : '';
    const name = `${n.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${n.callFrame.lineNumber + 1}` : ''}`;
    byName.set(name, (byName.get(name) ?? 0) + hits);
  }
  return [...byName].map(([name, hits]) => ({ name, share: total ? hits / total : 0 })).sort((a, b) => b.share - a.share);
}

/** Runs the section under the profiler; returns the exit code. */
export function profileSection(section: string | undefined, sections: string[]): number {
  if (!section || !sections.includes(section)) {
    console.error(`bench profile: name one section to profile: ${sections.join(', ')} (got ${JSON.stringify(section ?? '')})`);
    return 2;
  }
  const dir = path.join(root, 'bench-profiles');
  fs.mkdirSync(dir, { recursive: true });
  const name = `${section}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
  console.log(`profiling "${section}" → ${path.relative(process.cwd(), path.join(dir, name))}`);
  const r = spawnSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`, path.join(root, 'dist/bench/index.js'), section],
    { stdio: 'inherit' },
  );
  const file = path.join(dir, name);
  if (r.status !== 0 || !fs.existsSync(file)) {
    console.error(`bench profile: the section exited with ${r.status ?? r.signal}${fs.existsSync(file) ? '' : ' and wrote no profile'}`);
    return 1;
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  console.log(`\nself time (main thread; ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s sampled):`);
  for (const f of selfTimes(profile).slice(0, 15)) console.log(`  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
  return 0;
}
