/**
 * `npm run bench`: the figures that matter, each next to the PyTorch reference (../shared/peer/peer.py) measured in
 * the same invocation. Pass section names to run only some: `npm run bench -- engine`.
 */
import { benchEngine, benchNeo125m } from './engine.js';
import { benchMemory } from './memory.js';
import { benchNative } from './native.js';

const sections: Record<string, () => Promise<unknown>> = {
  engine: () => benchEngine(),
  neo125m: () => benchNeo125m(),
  memory: () => benchMemory(),
  native: () => benchNative(),
};

const wanted = process.argv.slice(2).filter((a) => a in sections);
for (const name of wanted.length ? wanted : Object.keys(sections)) {
  console.log(`\n=== ${name}`);
  await sections[name]!();
}
