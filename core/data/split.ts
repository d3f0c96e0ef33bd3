import { createHash } from 'node:crypto';

/**
 * How prompts are divided into train and held-out:
 * - `'hash'`: each prompt goes to held-out when a hash of (seed, its key) falls below
 *   `heldOutFraction`. The side a prompt lands on depends only on itself, so the split is the
 *   same whatever the file order, and adding or removing other rows never moves it; identical
 *   keys (duplicates) always land together. The held-out share is `heldOutFraction` on average.
 * - `'head'`: the first prompts train, the last `ceil(heldOutFraction × n)` are held out, which is
 *   Hugging Face `datasets`' `train_test_split(test_size=f, shuffle=False)` (the study's split).
 */
export type SplitMode = 'hash' | 'head';
export const SPLIT_MODES = ['hash', 'head'] as const;

/** Two disjoint parts of a list, each in the list's order. */
interface Split<T> {
  train: T[];
  heldOut: T[];
}

/**
 * A number in [0, 1) determined by `key` and `seed` alone: the first 48 bits of
 * SHA-256(`"<seed>\u0000<key>"`) over 2^48. Uniform enough for splitting, stable across
 * platforms and versions.
 */
export function hashUnit(key: string, seed: number): number {
  const digest = createHash('sha256').update(`${seed}\u0000${key}`).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Held out: the items whose {@link hashUnit} of `keyOf(item)` is below `heldOutFraction`. */
export function splitByHash<T>(items: readonly T[], heldOutFraction: number, seed: number, keyOf: (item: T) => string): Split<T> {
  checkFraction(heldOutFraction);
  const train: T[] = [];
  const heldOut: T[] = [];
  for (const item of items) (hashUnit(keyOf(item), seed) < heldOutFraction ? heldOut : train).push(item);
  return { train, heldOut };
}

/** The first `n − ceil(f·n)` items train, the rest are held out (datasets' `shuffle=False` split). */
export function splitHead<T>(items: readonly T[], heldOutFraction: number): Split<T> {
  checkFraction(heldOutFraction);
  const nTest = Math.ceil(heldOutFraction * items.length);
  const nTrain = items.length - nTest;
  return { train: items.slice(0, nTrain), heldOut: items.slice(nTrain) };
}

/** Splits `items` by `mode` (see {@link SplitMode}); `seed` and `keyOf` serve `'hash'` only. */
export function splitItems<T>(
  items: readonly T[],
  options: { mode: SplitMode; heldOutFraction: number; seed: number; keyOf: (item: T) => string },
): Split<T> {
  switch (options.mode) {
    case 'hash':
      return splitByHash(items, options.heldOutFraction, options.seed, options.keyOf);
    case 'head':
      return splitHead(items, options.heldOutFraction);
    default:
      throw new Error(`split: unknown mode "${String(options.mode)}"; allowed: ${SPLIT_MODES.join(', ')}`);
  }
}

function checkFraction(f: number): void {
  if (!(f >= 0 && f < 1)) throw new Error(`heldOutFraction must be in [0, 1) (got ${f})`);
}
