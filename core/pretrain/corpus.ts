/**
 * The pretraining corpus: plain-text lines (one sentence / utterance each) read from files, shuffled with a seed,
 * split into training and held-out lines, and packed into one token stream per split with `<|endoftext|>` before
 * every line (GPT-2's document separator), which is then cut into fixed-length training windows.
 */
import { readLines } from '../data/open-lines.js';
import { Rng } from '../util/rng.js';

/**
 * Reads corpus files (UTF-8, `.gz` allowed), one text per line. Blank lines are skipped and trailing whitespace is
 * removed; nothing else is changed.
 * @throws naming the file when one cannot be read
 */
export async function readCorpusFiles(files: readonly string[], field = 'corpus'): Promise<string[]> {
  if (!Array.isArray(files) || files.length === 0) throw new Error(`${field}: give at least one corpus file`);
  const out: string[] = [];
  for (let i = 0; i < files.length; i++) {
    for await (const { text } of readLines(files[i]!, { field: `${field}[${i}]` })) {
      const line = text.trimEnd();
      if (line.length > 0) out.push(line);
    }
  }
  return out;
}

/** Held-out and training lines after the seeded shuffle. */
export interface CorpusSplit {
  train: string[];
  heldOut: string[];
}

/**
 * Shuffles `lines` with a seed (xoshiro128** Fisher–Yates, core/util/rng.ts) and puts the first
 * `round(evalFraction · n)` of them (at least 1 when `evalFraction > 0` and there are ≥ 2 lines, at most
 * `maxEvalLines`) aside for evaluation. Deterministic in (lines, seed, evalFraction, maxEvalLines).
 */
export function splitCorpus(lines: readonly string[], opts: { seed: number; evalFraction: number; maxEvalLines?: number }): CorpusSplit {
  const { seed, evalFraction } = opts;
  if (!(evalFraction >= 0 && evalFraction < 1)) throw new Error(`evalFraction must be in [0, 1), got ${evalFraction}`);
  const maxEval = opts.maxEvalLines ?? Infinity;
  if (!(maxEval >= 0)) throw new Error(`maxEvalLines must be ≥ 0, got ${maxEval}`);
  const order = new Rng(seed).fork('pretrain/corpus-split').permutation(lines.length);
  const shuffled = order.map((i) => lines[i]!);
  let nEval = Math.min(maxEval, Math.round(evalFraction * lines.length));
  if (evalFraction > 0 && lines.length >= 2) nEval = Math.max(1, nEval);
  nEval = Math.min(nEval, lines.length - 1);
  return { heldOut: shuffled.slice(0, Math.max(0, nEval)), train: shuffled.slice(Math.max(0, nEval)) };
}

/**
 * Packs lines into one token stream: `<eot> line₁ <eot> line₂ … <eot> lineₙ <eot>`.
 * @param encode text → token ids (without special tokens)
 */
export function packLines(lines: readonly string[], encode: (text: string) => number[], eotId: number): Int32Array {
  const parts: number[][] = [];
  let n = 1;
  for (const line of lines) {
    const ids = encode(line);
    parts.push(ids);
    n += ids.length + 1;
  }
  const out = new Int32Array(n);
  let at = 0;
  out[at++] = eotId;
  for (const ids of parts) {
    out.set(ids, at);
    at += ids.length;
    out[at++] = eotId;
  }
  return out;
}

/**
 * Fixed-length windows over a token stream: window `i` is tokens `[i·T, i·T + T + 1)`, whose first T tokens are the
 * input and last T the next-token targets, so every token after the first is a target exactly once per epoch.
 * Batches take windows in a seeded random order, reshuffled at every epoch.
 */
export class TokenWindows {
  /** Number of whole windows. */
  readonly count: number;
  private order: number[] = [];
  private next = 0;
  private epochIndex = 0;
  private readonly rng: Rng;

  /**
   * @param stream the packed tokens
   * @param seqLen T, the model's input length per row
   * @param seed seed of the window order
   */
  constructor(
    private readonly stream: Int32Array,
    readonly seqLen: number,
    seed: number,
  ) {
    if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`seqLen must be an integer ≥ 1, got ${seqLen}`);
    this.count = stream.length > seqLen ? Math.floor((stream.length - 1) / seqLen) : 0;
    this.rng = new Rng(seed).fork('pretrain/windows');
  }

  /** Completed passes over the windows (a pass completes when its last window is handed out). */
  get epoch(): number {
    return this.epochIndex;
  }

  /** Tokens used as targets per epoch. */
  get tokensPerEpoch(): number {
    return this.count * this.seqLen;
  }

  /**
   * The next `batchSize` windows in shuffled order (continuing into the next epoch when needed).
   * @returns inputs and targets, each `[batchSize, seqLen]` row-major
   */
  nextBatch(batchSize: number): { inputs: Int32Array; targets: Int32Array } {
    if (this.count === 0) throw new Error(`the corpus has too few tokens (${this.stream.length}) for one window of ${this.seqLen + 1}`);
    const ids = [];
    for (let b = 0; b < batchSize; b++) {
      if (this.next >= this.order.length) {
        this.order = this.rng.permutation(this.count);
        this.next = 0;
      }
      ids.push(this.order[this.next++]!);
      if (this.next === this.order.length) this.epochIndex += 1;
    }
    return this.rows(ids);
  }

  /** Windows `from .. from + n - 1` in stream order (evaluation), clipped to the available windows. */
  slice(from: number, n: number): { inputs: Int32Array; targets: Int32Array; rows: number } {
    const ids = [];
    for (let i = from; i < Math.min(this.count, from + n); i++) ids.push(i);
    return { ...this.rows(ids), rows: ids.length };
  }

  private rows(ids: readonly number[]): { inputs: Int32Array; targets: Int32Array } {
    const T = this.seqLen;
    const inputs = new Int32Array(ids.length * T); // [B, T]
    const targets = new Int32Array(ids.length * T); // [B, T]
    ids.forEach((w, r) => {
      inputs.set(this.stream.subarray(w * T, w * T + T), r * T);
      targets.set(this.stream.subarray(w * T + 1, w * T + T + 1), r * T);
    });
    return { inputs, targets };
  }
}
