/**
 * `npm run bench`: the figures that matter, each next to the PyTorch reference (../shared/peer/peer.py) measured in
 * the same invocation, after the machine they were measured on. Pass section names to run only some:
 * `npm run bench -- engine`. `npm run bench -- profile <section>` runs one section under V8's CPU profiler, writes
 * the .cpuprofile (open it in Chrome DevTools or speedscope) and prints the functions with the most self time.
 */
import { benchEngine, benchNeo125m } from './engine.js';
import { benchMemory } from './memory.js';
import { benchParallel } from './parallel.js';
import { benchNative } from './native.js';
import { benchDefaultRun } from './default-run.js';
import { benchSubnormals } from './subnormals.js';
import { benchKernels } from './kernels.js';
import { machineLines } from './machine.js';

const sections: Record<string, () => Promise<unknown>> = {
  engine: () => benchEngine(),
  neo125m: () => benchNeo125m(),
  memory: () => benchMemory(),
  parallel: () => benchParallel(),
  native: () => benchNative(),
  default: () => benchDefaultRun(),
  subnormals: () => benchSubnormals(),
  kernels: () => benchKernels(),
};

const args = process.argv.slice(2);
const unknown = args.filter((a) => !(a in sections) && a !== 'profile');
if (unknown.length) {
  console.error(
    `bench: unknown section ${unknown.map((a) => JSON.stringify(a)).join(', ')}; sections: ${Object.keys(sections).join(', ')} (or profile <section>)`,
  );
  process.exit(2);
}
if (args[0] === 'profile') {
  const { profileSection } = await import('./profile.js');
  process.exit(profileSection(args[1], Object.keys(sections)));
}
for (const line of machineLines()) console.log(line);
const wanted = args.filter((a) => a in sections);
for (const name of wanted.length ? wanted : Object.keys(sections)) {
  console.log(`\n=== ${name}`);
  await sections[name]!();
}
