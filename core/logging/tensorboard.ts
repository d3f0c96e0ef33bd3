/**
 * TensorBoard event-file writer for long training runs: scalars (classic `simple_value`), texts (text plugin) and
 * histograms (classic `HistogramProto`), appended synchronously to `events.out.tfevents.<unix seconds>.<hostname>`.
 *
 * Durability: events are buffered in memory and appended with `fs.writeSync` on `flush()`, on the periodic flush
 * timer, when the buffer exceeds `MAX_BUFFERED_BYTES`, and on `close()`. A crash therefore loses at most what was
 * buffered since the last flush. The timer is unref()'d (it never keeps the process alive) and the writer registers
 * no process-wide handler: whoever owns the process (the CLI) calls `close()` on exit or signals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, FILE_VERSION, encodeEvent, frameRecord, type TfEvent, type TfHistogram, type TfSummaryValue } from './tfevents.js';

export {
  readEventFile,
  readScalars,
  listEventFiles,
  type TfEvent,
  type TfHistogram,
  type ScalarPoint,
  type ReadOptions,
} from './tfevents.js';

/** Default number of equal-width histogram buckets. */
export const DEFAULT_HISTOGRAM_BINS = 30;

/** Buffered bytes above which an event triggers an immediate flush, bounding memory between timer ticks. */
export const MAX_BUFFERED_BYTES = 1 << 20;

/** Largest accepted `flushEverySeconds` (Node timers hold at most 2^31 - 1 ms). */
const MAX_FLUSH_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Options of `TensorBoardWriter`. */
export interface TensorBoardWriterOptions {
  /**
   * Period of the background flush, in seconds (default 10). 0 disables the timer and appends every event to the
   * file immediately (write-through).
   */
  flushEverySeconds?: number;
}

/** Result of `buildHistogram`. */
export interface HistogramBuild {
  /** The `HistogramProto` content over the finite values. */
  histo: TfHistogram;
  /** How many input values were NaN or ±Infinity (left out of every statistic and bucket). */
  nonFinite: number;
}

/**
 * Builds a classic TensorBoard `HistogramProto` from `values`.
 *
 * - Only finite values are counted; NaN/±Infinity are excluded from min/max/num/sum/sum_squares/buckets and their
 *   count is returned as `nonFinite`.
 * - `bins` equal-width buckets between min and max: edges e_i = min + i·(max−min)/bins, e_bins = max exactly;
 *   bucket i holds [e_i, e_{i+1}) and the last bucket also holds max (numpy.histogram's convention).
 *   `bucket_limit` lists the right edges e_1..e_bins (so the last limit is +max); TensorBoard takes `min` as the left
 *   edge of bucket 0 and `max` as the right edge of the last bucket.
 * - All values equal: one bucket with limit = that value holding all of them.
 * - No finite value: min = max = num = sum = sum_squares = 0 and one empty bucket with limit 0 (TensorBoard's
 *   histogram conversion needs at least one bucket).
 */
export function buildHistogram(values: ArrayLike<number>, bins: number = DEFAULT_HISTOGRAM_BINS): HistogramBuild {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new Error(`histogram: bins must be an integer >= 1, got ${bins}`);
  }
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  let sum = 0;
  let sumSquares = 0;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    n++;
    sum += v;
    sumSquares += v * v;
  }
  if (n === 0) {
    return {
      histo: { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] },
      nonFinite,
    };
  }
  if (min === max) {
    return { histo: { min, max, num: n, sum, sumSquares, bucketLimit: [max], bucket: [n] }, nonFinite };
  }
  const width = (max - min) / bins;
  const edges = new Float64Array(bins + 1); // [bins + 1] bucket edges
  for (let i = 0; i < bins; i++) edges[i] = i * width + min;
  edges[bins] = max;
  const counts = new Float64Array(bins); // [bins] bucket counts
  for (let i = 0; i < values.length; i++) {
    const v = Number(values[i]);
    if (!Number.isFinite(v)) continue;
    let b = Math.min(bins - 1, Math.floor((v - min) / width));
    // The first guess can be off by one at an edge because of rounding; settle it against the stored edges.
    while (b > 0 && v < edges[b]) b--;
    while (b < bins - 1 && v >= edges[b + 1]) b++;
    counts[b]++;
  }
  return {
    histo: {
      min,
      max,
      num: n,
      sum,
      sumSquares,
      bucketLimit: Array.from(edges.subarray(1)),
      bucket: Array.from(counts),
    },
    nonFinite,
  };
}

function checkTag(method: string, tag: string): void {
  if (typeof tag !== 'string' || tag.length === 0) {
    throw new Error(`TensorBoardWriter.${method}: tag must be a non-empty string, got ${JSON.stringify(tag)}`);
  }
}

function checkStep(method: string, tag: string, step: number): void {
  if (!Number.isSafeInteger(step)) {
    throw new Error(`TensorBoardWriter.${method}("${tag}"): step must be a safe integer, got ${step}`);
  }
}

function resolveWallTime(method: string, tag: string, wallTime: number | undefined): number {
  if (wallTime === undefined) return Date.now() / 1000;
  if (!Number.isFinite(wallTime)) {
    throw new Error(`TensorBoardWriter.${method}("${tag}"): wallTime must be finite seconds, got ${wallTime}`);
  }
  return wallTime;
}

/** Opens a fresh event file in `logdir`, adding `.<pid>.<n>` when another writer already took the name. */
function openEventFile(logdir: string): { file: string; fd: number } {
  const base = `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}`;
  for (let n = 0; ; n++) {
    const file = path.join(logdir, n === 0 ? base : `${base}.${process.pid}.${n}`);
    try {
      return { file, fd: fs.openSync(file, 'wx') };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 1000) throw e;
    }
  }
}

/** Appends TensorBoard events to one new event file. */
export class TensorBoardWriter {
  /** Absolute path of the event file. */
  readonly path: string;
  private fd: number | null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerError: unknown = undefined;
  private writeThrough = false;

  /**
   * Creates `logdir` (recursively) and the file `events.out.tfevents.<unix seconds>.<hostname>` in it, and writes
   * the `file_version` event ("brain.Event:2") to disk at once.
   */
  constructor(logdir: string, opts: TensorBoardWriterOptions = {}) {
    const every = opts.flushEverySeconds ?? 10;
    if (typeof every !== 'number' || !Number.isFinite(every) || every < 0 || every > MAX_FLUSH_SECONDS) {
      throw new Error(
        `TensorBoardWriter: flushEverySeconds must be a number in [0, ${MAX_FLUSH_SECONDS}] (0 = write-through), ` + `got ${every}`,
      );
    }
    fs.mkdirSync(logdir, { recursive: true });
    const { file, fd } = openEventFile(path.resolve(logdir));
    this.path = file;
    this.fd = fd;
    this.enqueue({ wallTime: Date.now() / 1000, step: 0, fileVersion: FILE_VERSION });
    this.flush();
    if (every > 0) {
      this.timer = setInterval(() => {
        try {
          this.flush();
        } catch (e) {
          // Surface the failure on the caller's next call instead of crashing the process from a timer.
          this.timerError = e;
          clearInterval(this.timer);
          this.timer = undefined;
        }
      }, every * 1000);
      this.timer.unref();
    } else {
      this.writeThrough = true;
    }
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.fd === null;
  }

  /** Logs a scalar as a classic `simple_value` (stored as float32: 0.1 reads back as Math.fround(0.1); NaN/±Inf kept). */
  scalar(tag: string, value: number, step: number, wallTime?: number): void {
    checkTag('scalar', tag);
    checkStep('scalar', tag, step);
    if (typeof value !== 'number') {
      throw new Error(`TensorBoardWriter.scalar("${tag}"): value must be a number, got ${typeof value}`);
    }
    this.writeValue('scalar', { tag, simpleValue: value }, step, resolveWallTime('scalar', tag, wallTime));
  }

  /**
   * Logs a text for the text plugin: a rank-0 DT_STRING tensor holding the UTF-8 bytes, with plugin metadata
   * `plugin_name = "text"` (content left empty = TextPluginData version 0). TensorBoard renders it as Markdown.
   */
  text(tag: string, text: string, step: number, wallTime?: number): void {
    checkTag('text', tag);
    checkStep('text', tag, step);
    if (typeof text !== 'string') {
      throw new Error(`TensorBoardWriter.text("${tag}"): text must be a string, got ${typeof text}`);
    }
    const value: TfSummaryValue = {
      tag,
      metadata: { pluginData: { pluginName: 'text' } },
      tensor: {
        dtype: DataType.DT_STRING,
        tensorShape: { dim: [] },
        stringVal: [new TextEncoder().encode(text)],
      },
    };
    this.writeValue('text', value, step, resolveWallTime('text', tag, wallTime));
  }

  /**
   * Logs a classic histogram of `values` (see `buildHistogram` for buckets and non-finite handling).
   * Returns how many finite values were counted and how many non-finite ones were left out.
   */
  histogram(
    tag: string,
    values: ArrayLike<number>,
    step: number,
    opts: { bins?: number; wallTime?: number } = {},
  ): { num: number; nonFinite: number } {
    checkTag('histogram', tag);
    checkStep('histogram', tag, step);
    const { histo, nonFinite } = buildHistogram(values, opts.bins ?? DEFAULT_HISTOGRAM_BINS);
    this.writeValue('histogram', { tag, histo }, step, resolveWallTime('histogram', tag, opts.wallTime));
    return { num: histo.num, nonFinite };
  }

  /** Appends everything buffered to the file (synchronously). No-op once closed. */
  flush(): void {
    this.rethrowTimerError();
    if (this.fd === null || this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    } finally {
      // Keep exactly the bytes not yet on disk so that a retry continues the byte stream without duplicates.
      this.pending = off < buf.length ? [buf.subarray(off)] : [];
      this.pendingBytes = buf.length - off;
    }
  }

  /** Flushes, stops the timer and closes the file. Idempotent. */
  close(): void {
    if (this.fd === null) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  private rethrowTimerError(): void {
    if (this.timerError === undefined) return;
    const e = this.timerError;
    this.timerError = undefined;
    throw new Error(`TensorBoardWriter(${this.path}): background flush failed: ${(e as Error).message ?? e}`);
  }

  private writeValue(method: string, value: TfSummaryValue, step: number, wallTime: number): void {
    if (this.fd === null) {
      throw new Error(`TensorBoardWriter.${method}("${value.tag}"): writer for ${this.path} is closed`);
    }
    this.rethrowTimerError();
    this.enqueue({ wallTime, step, summary: { value: [value] } });
    if (this.writeThrough || this.pendingBytes > MAX_BUFFERED_BYTES) this.flush();
  }

  private enqueue(event: TfEvent): void {
    const record = frameRecord(encodeEvent(event));
    this.pending.push(record);
    this.pendingBytes += record.length;
  }
}
