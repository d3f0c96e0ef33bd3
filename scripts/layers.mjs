// The house plan: which folder may import which. Folders are layered; a file may import files of its own layer or
// of a lower one, never of a higher one (and import circles are errors everywhere: import-x/no-cycle). Read by the
// ESLint rule `house/layers` (eslint.config.js) and by scripts/import-graph.mjs, which prints the folder graph that
// CONTRIBUTING.md shows.
import { posix } from 'node:path';

/** Bottom to top. A folder's layer is its index here. */
export const LAYERS = [
  ['core', 'core/util', 'core/interfaces'], // tokens, errors, exit codes; helpers; the interfaces
  ['core/plugin'], // definePlugin, the registry
  ['core/config', 'core/logging'], // config schema/loading/validation; progress, TensorBoard
  ['core/di', 'core/compare', 'core/model/wasm', 'core/model/arch', 'core/model/memory'],
  ['core/model/io'], // safetensors, Hugging Face folders, tokenizers
  ['core/model'], // the causal LM, generation, classifiers, policy
  ['core/data', 'core/optim', 'core/memory'], // dataset kits, optimisers, memory estimates
  ['core/ppo'], // TRL's PPO math and the step
  ['core/parallel', 'core/eval'], // worker threads; evaluation
  ['core/training'], // the loop, checkpoints, run set-up, arm processes
  ['core/classifier', 'core/pretrain', 'core/serve', 'core/queue'],
  ['core/index'], // the public door: what plugins (any plugins) import
  ['plugins'], // built-in plugins: import core/index.ts only
  ['core/cli'], // parses and prints; the composition root
];

const LAYER_OF = new Map(LAYERS.flatMap((fs, i) => fs.map((f) => [f, i])));

/** The only core file that imports plugins/: the composition root's link to the built-in list. */
export const PLUGINS_LINK = 'core/cli/builtins.ts';

/** The folder a repo-relative file belongs to (core/<room>, core/model/<room>, core/index, core, plugins). */
export function folderOf(file) {
  const parts = file.split('/');
  if (parts[0] === 'plugins') return 'plugins';
  if (parts[0] !== 'core') return null;
  if (file === 'core/index.ts') return 'core/index';
  if (parts.length === 2) return 'core';
  if (parts[1] === 'model' && parts.length > 3) return `core/model/${parts[2]}`;
  return `core/${parts[1]}`;
}

export function layerOf(folder) {
  return LAYER_OF.get(folder);
}

/**
 * Why `from` (repo-relative file) must not import `to` (repo-relative file), or null when it may. Files outside
 * core/ and plugins/ (tests, benchmarks, scripts) are not layered.
 */
export function violation(from, to) {
  const a = folderOf(from);
  const b = folderOf(to);
  if (a === null || b === null || a === b) return null;
  if (a === 'plugins') {
    return b === 'core/index' ? null : `plugins import core only through its public door, core/index.ts (not ${to})`;
  }
  if (b === 'plugins') {
    return from === PLUGINS_LINK ? null : `core never imports plugins/ (only ${PLUGINS_LINK}, the composition root's link, does)`;
  }
  const la = layerOf(a);
  const lb = layerOf(b);
  if (la === undefined) return `${a} is not in the house plan (scripts/layers.mjs): add it to a layer`;
  if (lb === undefined) return `${b} is not in the house plan (scripts/layers.mjs): add it to a layer`;
  return lb > la ? `${a} (layer ${la}) must not import ${b} (layer ${lb}, above it); see CONTRIBUTING.md` : null;
}

/** The repo-relative .ts file a relative specifier of `from` names (`./x.js` → x.ts), or null for packages. */
export function resolveSpecifier(from, spec) {
  if (!spec.startsWith('.')) return null;
  return posix.normalize(posix.join(posix.dirname(from), spec)).replace(/\.js$/, '.ts');
}
