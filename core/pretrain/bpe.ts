/**
 * Training a GPT-2 style byte-level BPE tokenizer from plain text.
 *
 * The procedure is the one of Hugging Face `tokenizers`' BpeTrainer driven by a ByteLevel pre-tokenizer:
 * 1. every text is split with GPT-2's pre-tokenisation regex, each piece is UTF-8 encoded and each byte written as a
 *    character of GPT-2's `bytes_to_unicode` alphabet (space → "Ġ", newline → "Ċ", ...); identical pieces are counted;
 * 2. the vocabulary starts with all 256 byte characters, ordered by code point (which is exactly GPT-2's own order
 *    of ids 0–255), so any text can be encoded without an unknown token;
 * 3. repeatedly, the adjacent symbol pair with the highest count (summed over the piece counts) becomes a new symbol;
 *    ties go to the pair whose (left id, right id) is smallest, i.e. made of the older symbols, as in `tokenizers`;
 * 4. `<|endoftext|>` takes the last id, as in GPT-2.
 *
 * Pair counts are kept up to date incrementally: a merge only revisits the pieces that contain the merged pair (an
 * index from pair to pieces), and the best pair is found with a lazy max-heap (an entry whose count is stale is
 * re-inserted with the current count when it reaches the top, and every pair whose count grows during a merge gets a
 * fresh entry, so the heap always holds each pair's true count and the top is exact).
 *
 * The result is a standard `tokenizer.json` (ByteLevel pre-tokenizer / post-processor / decoder, BPE model with vocab
 * and merges) that core/model/io/tokenizer.ts loads and encodes with, token for token, the merges learned here.
 */
import { buildGpt2TokenizerJson, type HfTokenizerJson } from '../model/io/gpt2-tokenizer-files.js';

/** The end-of-text token appended to every trained vocabulary (bos, eos and pad of the model). */
export const END_OF_TEXT = '<|endoftext|>';

/** GPT-2's pre-tokenisation pattern (the one `tokenizers`' ByteLevel pre-tokenizer applies with `use_regex`). */
const GPT2_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Number of byte symbols every vocabulary starts with. */
const BYTE_ALPHABET_SIZE = 256;

/** Largest vocabulary this trainer supports (pair keys pack two ids in 16 bits each). */
const MAX_VOCAB_SIZE = 65536;

let byteEncoder: string[] | undefined;

/**
 * GPT-2's `bytes_to_unicode`: the character standing for each byte value. Printable Latin-1 bytes ('!'–'~',
 * '¡'–'¬', '®'–'ÿ') stand for themselves; the other 68 bytes map, in byte order, to U+0100 onwards.
 * @returns 256 one-character strings, indexed by byte value
 */
export function bytesToUnicode(): readonly string[] {
  if (byteEncoder) return byteEncoder;
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  byteEncoder = out;
  return out;
}

/** The 256 byte characters in id order (ascending code point = GPT-2's ids 0–255). */
export function byteAlphabet(): string[] {
  return [...bytesToUnicode()].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
}

const utf8 = new TextEncoder();

/** A pre-tokenised piece written in the byte alphabet (what the BPE model sees). */
export function toByteLevel(piece: string): string {
  const enc = bytesToUnicode();
  let s = '';
  for (const b of utf8.encode(piece)) s += enc[b];
  return s;
}

/** Splits text into pieces with GPT-2's regex (no byte mapping); the pieces concatenate back to `text`. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_PATTERN) ?? [];
}

/**
 * Counts the pre-tokenised pieces of `texts` (raw pieces, not yet byte-mapped). Pass `counts` to accumulate over
 * several calls (e.g. while streaming a corpus).
 */
export function countPieces(texts: Iterable<string>, counts: Map<string, number> = new Map()): Map<string, number> {
  for (const text of texts) {
    if (typeof text !== 'string') throw new Error(`countPieces: every text must be a string, got ${typeof text}`);
    const pieces = text.match(GPT2_SPLIT_PATTERN);
    if (!pieces) continue;
    for (const p of pieces) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return counts;
}

/** Options of {@link trainBpe}. */
interface BpeTrainOptions {
  /**
   * Total vocabulary size, counting the 256 byte symbols, the learned merges and `<|endoftext|>`
   * (so `vocabSize - 257` learned tokens at most). Integer in [257, 65536]. Training stops earlier when no pair
   * reaches `minFrequency`; the vocabulary is then smaller.
   */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (default 2); training stops early when none is left. */
  minFrequency?: number;
  /** Called every `progressEvery` merges with (tokens learned, tokens wanted) beyond the 256 bytes. */
  onProgress?: (done: number, total: number) => void;
  /** Default 256. */
  progressEvery?: number;
}

/** A trained byte-level BPE vocabulary. */
interface BpeModel {
  /** Token string (byte alphabet) → id; ids are 0..size-1 with `<|endoftext|>` last. */
  vocab: Record<string, number>;
  /** Merge rules `"left right"` in the order learned (= priority order). */
  merges: string[];
  /** Id of `<|endoftext|>` (= vocabulary size − 1). */
  endOfTextId: number;
  /** The Hugging Face tokenizer.json document. */
  tokenizerJson: HfTokenizerJson;
  /** Counts seen while training: distinct pieces, total pieces, and the count of each merge when it was made. */
  stats: { distinctPieces: number; totalPieces: number; mergeCounts: number[] };
}

/** Max-heap of (count, pair key): larger count first, then smaller key (older symbols). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  /** True when entry i should be above entry j. */
  private before(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the top entry as [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    const n = this.counts.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
    return top;
  }
}

const pairKey = (a: number, b: number): number => a * MAX_VOCAB_SIZE + b;

/**
 * Learns byte-level BPE merges from piece counts (see {@link countPieces}) or directly from texts.
 * Deterministic: the result depends only on the multiset of pieces, not on their order.
 * @throws when `vocabSize` or `minFrequency` is out of range
 */
export function trainBpe(input: Iterable<string> | Map<string, number>, opts: BpeTrainOptions): BpeModel {
  const { vocabSize } = opts;
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < BYTE_ALPHABET_SIZE + 1 || vocabSize > MAX_VOCAB_SIZE) {
    throw new Error(
      `trainBpe: vocabSize must be an integer in [${BYTE_ALPHABET_SIZE + 1}, ${MAX_VOCAB_SIZE}] ` +
        `(256 bytes + merges + ${END_OF_TEXT}), got ${vocabSize}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new Error(`trainBpe: minFrequency must be an integer ≥ 1, got ${minFrequency}`);
  }
  const rawCounts = input instanceof Map ? input : countPieces(input);
  const wantTokens = vocabSize - BYTE_ALPHABET_SIZE - 1; // tokens to learn beyond the bytes

  // Symbols: id → string; the byte alphabet first, in code-point order.
  const symbols = byteAlphabet();
  const symbolId = new Map<string, number>(symbols.map((s, i) => [s, i]));
  const enc = bytesToUnicode();
  const byteId = enc.map((ch) => symbolId.get(ch)!); // byte value → symbol id

  // Pieces as symbol-id arrays with their counts.
  const words: number[][] = [];
  const wordCounts: number[] = [];
  let totalPieces = 0;
  for (const [piece, count] of rawCounts) {
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`trainBpe: count of piece ${JSON.stringify(piece)} must be a positive integer, got ${count}`);
    totalPieces += count;
    words.push(Array.from(utf8.encode(piece), (b) => byteId[b]!));
    wordCounts.push(count);
  }

  // Initial pair counts and the pair → pieces index.
  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  for (let w = 0; w < words.length; w++) {
    const word = words[w]!;
    const c = wordCounts[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const k = pairKey(word[i]!, word[i + 1]!);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + c);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
  }
  const heap = new PairHeap();
  // Keys in ascending order so equal counts enter the heap in a fixed order (the heap orders them anyway).
  for (const k of [...pairCounts.keys()].sort((a, b) => a - b)) heap.push(pairCounts.get(k)!, k);

  const merges: string[] = [];
  const mergeCounts: number[] = [];
  const every = opts.progressEvery ?? 256;
  const delta = new Map<number, number>();
  while (symbols.length < vocabSize - 1 && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = pairCounts.get(key) ?? 0;
    if (current !== count) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(key / MAX_VOCAB_SIZE);
    const b = key % MAX_VOCAB_SIZE;
    const text = symbols[a]! + symbols[b]!;
    // Two different pairs can spell the same string ("ab c" and "a bc"): the merge is kept, the token reused.
    let z = symbolId.get(text);
    if (z === undefined) {
      z = symbols.length;
      symbols.push(text);
      symbolId.set(text, z);
    }
    merges.push(`${symbols[a]} ${symbols[b]}`);
    mergeCounts.push(count);

    delta.clear();
    const affected = [...where.get(key)!].sort((x, y) => x - y);
    for (const w of affected) {
      const word = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === a && word[i + 1] === b) {
          has = true;
          break;
        }
      }
      if (!has) continue; // stale index entry: an earlier merge already consumed the pair here
      const c = wordCounts[w]!;
      for (let i = 0; i + 1 < word.length; i++) {
        const k = pairKey(word[i]!, word[i + 1]!);
        delta.set(k, (delta.get(k) ?? 0) - c);
      }
      // Left-to-right, non-overlapping replacement of (a, b) by z ("a a a" → "aa a").
      const merged: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          merged.push(z);
          i++;
        } else merged.push(word[i]!);
      }
      words[w] = merged;
      for (let i = 0; i + 1 < merged.length; i++) {
        const k = pairKey(merged[i]!, merged[i + 1]!);
        delta.set(k, (delta.get(k) ?? 0) + c);
        let set = where.get(k);
        if (!set) where.set(k, (set = new Set()));
        set.add(w);
      }
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const next = (pairCounts.get(k) ?? 0) + d;
      if (next > 0) pairCounts.set(k, next);
      else pairCounts.delete(k);
      if (d > 0) heap.push(next, k); // a grown count needs a fresh heap entry (see module docs)
    }
    pairCounts.delete(key);
    where.delete(key);
    if (opts.onProgress && merges.length % every === 0) opts.onProgress(symbols.length - BYTE_ALPHABET_SIZE, wantTokens);
  }
  opts.onProgress?.(symbols.length - BYTE_ALPHABET_SIZE, wantTokens);

  const vocab: Record<string, number> = {};
  symbols.forEach((s, i) => {
    vocab[s] = i;
  });
  const endOfTextId = symbols.length;
  vocab[END_OF_TEXT] = endOfTextId;
  const tokenizerJson = buildGpt2TokenizerJson(vocab, `#version: 0.2\n${merges.join('\n')}\n`);
  return { vocab, merges, endOfTextId, tokenizerJson, stats: { distinctPieces: words.length, totalPieces, mergeCounts } };
}
