/** Arithmetic mean, summed left to right from 0 (NaN for no values). The one mean of the project. */
export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}
