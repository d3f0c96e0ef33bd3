/**
 * `npm run bench`: the figures that matter, each next to the PyTorch reference (../shared/peer/peer.py) measured in
 * the same invocation. Pass section names to run only some: `npm run bench -- engine`.
 */
import { benchEngine, benchNeo125m } from './engine.js';
import { benchMemory } from './memory.js';
import { benchParallel } from './parallel.js';
import { benchNative } from './native.js';
import { benchDefaultRun } from './default-run.js';

const sections: Record<string, () => Promise<unknown>> = {
  engine: () => benchEngine(),
  neo125m: () => benchNeo125m(),
  memory: () => benchMemory(),
  parallel: () => benchParallel(),
  native: () => benchNative(),
  default: () => benchDefaultRun(),
};

const wanted = process.argv.slice(2).filter((a) => a in sections);
for (const name of wanted.length ? wanted : Object.keys(sections)) {
  console.log(`\n=== ${name}`);
  await sections[name]!();
}
