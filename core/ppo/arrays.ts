/**
 * The float64 arrays the PPO reference math works on, and TRL v0.11.4's array helpers on them
 * (`trl/core.py`: log-softmax, log-probs and entropy from logits, clipping, masked mean/var/whiten).
 * Pure functions on typed arrays; `math.ts` (TRL's PPOTrainer math) and `step-stats.ts` (the logged
 * statistics) are built from them.
 *
 * Layout: a batch of per-position numbers is a {@link Float64BT} — `[B, T]` stored row-major, so the
 * element of sample `b` at position `t` is `data[b * T + t]`. Per-position vectors (logits, full
 * log-probabilities) are a {@link Float64BTV} — `[B, T, V]` row-major, element `(b, t, v)` at
 * `data[(b * T + t) * V + v]`. Position `t` holds what TRL's `batched_forward_pass` puts there: the
 * log-prob of token `t + 1` and the value of the prefix ending at token `t`; `mask` is 1 exactly on the
 * positions that predict response tokens.
 *
 * Every statistic (means, variances, whitening) is taken over the whole batch passed in (all rows
 * together), never per row, exactly as TRL does.
 */
/** A `[B, T]` float64 batch, row-major: element `(b, t)` is `data[b * T + t]`. */
export interface Float64BT {
  readonly data: Float64Array;
  readonly B: number;
  readonly T: number;
}

/** A `[B, T, V]` float64 batch of per-position vectors, row-major: `(b, t, v)` is `data[(b * T + t) * V + v]`. */
export interface Float64BTV {
  readonly data: Float64Array;
  readonly B: number;
  readonly T: number;
  readonly V: number;
}

// ---------------------------------------------------------------------------------------------
// Construction and conversion helpers
// ---------------------------------------------------------------------------------------------

/** Wraps a flat row-major array as `[B, T]`; checks the length. */
export function btFrom(data: ArrayLike<number>, B: number, T: number): Float64BT {
  if (!Number.isInteger(B) || B < 0 || !Number.isInteger(T) || T < 0) {
    throw new RangeError(`btFrom: B and T must be non-negative integers; got B=${B}, T=${T}`);
  }
  if (data.length !== B * T) {
    throw new RangeError(`btFrom: data has ${data.length} elements but [B, T] = [${B}, ${T}] needs ${B * T}`);
  }
  return { data: data instanceof Float64Array ? data : Float64Array.from(data), B, T };
}

/** Builds a `[B, T]` batch from nested rows (all rows must have the same length). */
export function bt(rows: readonly (readonly number[])[]): Float64BT {
  const B = rows.length;
  const T = B === 0 ? 0 : rows[0].length;
  const data = new Float64Array(B * T); // [B, T]
  rows.forEach((row, b) => {
    if (row.length !== T) throw new RangeError(`bt: row ${b} has length ${row.length}, expected ${T} (rows must be rectangular)`);
    data.set(row, b * T);
  });
  return { data, B, T };
}

/** Builds a `[B, T, V]` batch from nested arrays (rectangular). */
export function btv(nested: readonly (readonly (readonly number[])[])[]): Float64BTV {
  const B = nested.length;
  const T = B === 0 ? 0 : nested[0].length;
  const V = T === 0 ? 0 : nested[0][0].length;
  const data = new Float64Array(B * T * V); // [B, T, V]
  nested.forEach((rows, b) => {
    if (rows.length !== T) throw new RangeError(`btv: sample ${b} has ${rows.length} positions, expected ${T}`);
    rows.forEach((vec, t) => {
      if (vec.length !== V) throw new RangeError(`btv: (${b}, ${t}) has ${vec.length} entries, expected ${V}`);
      data.set(vec, (b * T + t) * V);
    });
  });
  return { data, B, T, V };
}

/** Nested rows of a `[B, T]` batch. */
export function btToRows(x: Float64BT): number[][] {
  return Array.from({ length: x.B }, (_, b) => Array.from(x.data.subarray(b * x.T, (b + 1) * x.T)));
}

/** Throws a RangeError naming `where` and the offending input unless every `[B, T]` in `xs` has the shape of `xs[0]`. */
export function sameShape(where: string, names: readonly string[], xs: readonly Float64BT[]): void {
  const { B, T } = xs[0];
  xs.forEach((x, i) => {
    if (x.B !== B || x.T !== T || x.data.length !== B * T) {
      throw new RangeError(`${where}: ${names[i]} has shape [${x.B}, ${x.T}] (${x.data.length} elements) but ${names[0]} is [${B}, ${T}]`);
    }
  });
}

/** Throws a RangeError naming `where` and `name` unless `x.data` has `B·T·V` elements. */
export function checkBTV(where: string, name: string, x: Float64BTV): void {
  if (x.data.length !== x.B * x.T * x.V) {
    throw new RangeError(`${where}: ${name} has ${x.data.length} elements, but [B, T, V] = [${x.B}, ${x.T}, ${x.V}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// trl/core.py
// ---------------------------------------------------------------------------------------------

/** Stable log Σ exp over `data[o .. o+V)`: one row of a `[B, T, V]` array. */
function rowLogSumExp(data: Float64Array, o: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, data[o + v]);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(data[o + v] - max);
  return max + Math.log(sum);
}

/** `log_softmax(logits, dim=-1)` — TRL's `logprobs_from_logits(logits, None, gather=False)`. */
export function logSoftmax(logits: Float64BTV): Float64BTV {
  checkBTV('logSoftmax', 'logits', logits);
  const { B, T, V } = logits;
  const out = new Float64Array(B * T * V); // [B, T, V]
  for (let r = 0; r < B * T; r++) {
    const o = r * V;
    const lse = rowLogSumExp(logits.data, o, V);
    for (let v = 0; v < V; v++) out[o + v] = logits.data[o + v] - lse;
  }
  return { data: out, B, T, V };
}

/**
 * TRL's `logprobs_from_logits(logits, labels)`: the log-softmax gathered at `labels` (`[B, T]` integer
 * token ids, row-major, each in [0, V)).
 */
export function logprobsFromLogits(logits: Float64BTV, labels: ArrayLike<number>): Float64BT {
  const { B, T, V } = logits;
  if (labels.length !== B * T) {
    throw new RangeError(`logprobsFromLogits: labels has ${labels.length} elements, expected B*T = ${B * T}`);
  }
  const logp = logSoftmax(logits); // [B, T, V]
  const out = new Float64Array(B * T); // [B, T]
  for (let r = 0; r < B * T; r++) {
    const id = labels[r];
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new RangeError(`logprobsFromLogits: labels[${r}] = ${id} is not a token id in [0, ${V})`);
    }
    out[r] = logp.data[r * V + id];
  }
  return { data: out, B, T };
}

/** TRL's `entropy_from_logits`: `logsumexp(logits) − Σ_v softmax(logits)·logits` per position → `[B, T]`. */
export function entropyFromLogits(logits: Float64BTV): Float64BT {
  checkBTV('entropyFromLogits', 'logits', logits);
  const { B, T, V } = logits;
  const out = new Float64Array(B * T); // [B, T]
  for (let r = 0; r < B * T; r++) {
    const o = r * V;
    const lse = rowLogSumExp(logits.data, o, V);
    let expected = 0;
    for (let v = 0; v < V; v++) expected += Math.exp(logits.data[o + v] - lse) * logits.data[o + v];
    out[r] = lse - expected;
  }
  return { data: out, B, T };
}

/** TRL's `clip_by_value(x, min, max)` = `max(min(x, max), min)` elementwise (tensor bounds). */
export function clipByValue(x: Float64BT, lo: Float64BT, hi: Float64BT): Float64BT {
  sameShape('clipByValue', ['x', 'min', 'max'], [x, lo, hi]);
  const out = new Float64Array(x.data.length); // [B, T]
  for (let i = 0; i < out.length; i++) out[i] = Math.max(Math.min(x.data[i], hi.data[i]), lo.data[i]);
  return { data: out, B: x.B, T: x.T };
}

/** Σ mask over the batch. */
export function maskCount(mask: Float64BT): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/**
 * TRL's `masked_mean(values, mask)` = Σ values·mask / Σ mask over the whole batch. An all-zero mask
 * gives NaN (0/0), as in TRL.
 */
export function maskedMean(x: Float64BT, mask: Float64BT): number {
  sameShape('maskedMean', ['values', 'mask'], [x, mask]);
  let s = 0;
  let n = 0;
  for (let i = 0; i < x.data.length; i++) {
    s += x.data[i] * mask.data[i];
    n += mask.data[i];
  }
  return s / n;
}

/** TRL's `masked_mean(values, mask, axis=1)`: one mean per row → `[B]`. */
export function maskedRowMean(x: Float64BT, mask: Float64BT): Float64Array {
  sameShape('maskedRowMean', ['values', 'mask'], [x, mask]);
  const out = new Float64Array(x.B); // [B]
  for (let b = 0; b < x.B; b++) {
    let s = 0;
    let n = 0;
    for (let t = 0; t < x.T; t++) {
      s += x.data[b * x.T + t] * mask.data[b * x.T + t];
      n += mask.data[b * x.T + t];
    }
    out[b] = s / n;
  }
  return out;
}

/**
 * TRL's `masked_var(values, mask, unbiased)`: the masked mean of (x − masked_mean)², times the Bessel
 * factor n/(n−1) when `unbiased` (the default), with n = Σ mask over the whole batch.
 * Throws when n == 0 (TRL raises there; we also refuse it for the biased form rather than return NaN).
 * With n == 1 the unbiased form is 0·∞ = NaN, as in TRL.
 */
export function maskedVar(x: Float64BT, mask: Float64BT, unbiased = true): number {
  sameShape('maskedVar', ['values', 'mask'], [x, mask]);
  const n = maskCount(mask);
  if (n === 0) {
    throw new RangeError(
      'maskedVar: the mask sums to 0 (no masked-in position), so the variance is undefined; ' +
        'TRL raises here too — use a larger mini_batch_size or check the response masks',
    );
  }
  const mean = maskedMean(x, mask);
  let s = 0;
  for (let i = 0; i < x.data.length; i++) {
    const c = x.data[i] - mean;
    s += c * c * mask.data[i];
  }
  const variance = s / n;
  return unbiased ? variance * (n / (n - 1)) : variance;
}

/**
 * TRL's `masked_whiten(values, mask, shift_mean)`: `(x − mean)·rsqrt(var + 1e-8)` with the masked mean
 * and unbiased masked variance, applied to ALL positions (masked-out ones too); with `shiftMean=false`
 * the mean is added back.
 */
export function maskedWhiten(x: Float64BT, mask: Float64BT, shiftMean = true): Float64BT {
  const mean = maskedMean(x, mask);
  const variance = maskedVar(x, mask);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float64Array(x.data.length); // [B, T]
  for (let i = 0; i < out.length; i++) {
    out[i] = (x.data[i] - mean) * scale;
    if (!shiftMean) out[i] += mean;
  }
  return { data: out, B: x.B, T: x.T };
}

/** TRL's unmasked `whiten(values, shift_mean)`: mean and unbiased variance over every element. */
export function whiten(x: Float64BT, shiftMean = true): Float64BT {
  const n = x.data.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x.data[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x.data[i] - mean) ** 2;
  const variance = ss / (n - 1);
  const scale = 1 / Math.sqrt(variance + 1e-8);
  const out = new Float64Array(n); // [B, T]
  for (let i = 0; i < n; i++) out[i] = (x.data[i] - mean) * scale + (shiftMean ? 0 : mean);
  return { data: out, B: x.B, T: x.T };
}
