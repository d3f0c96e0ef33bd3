/**
 * A small seedable pseudo-random generator with a JSON-able state, so a run can be stopped and
 * resumed bit-for-bit.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna, 2018), 128 bits of state, 32-bit outputs, period
 * 2^128 − 1. Seeds are expanded into the four state words with a bijective 32-bit mixer, so distinct
 * integer seeds always give distinct states. Doubles use 53 random bits (two outputs), integers are
 * drawn without modulo bias (rejection sampling), normals use Box–Muller with the second value cached
 * in the state (so `state()` taken between two `normal()` calls still resumes exactly).
 *
 * This is not a cryptographic generator.
 */

/** The serialisable state of an {@link Rng}; `JSON.parse(JSON.stringify(state))` restores it exactly. */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  /** The four 32-bit state words, each an integer in [0, 2^32). Not all zero. */
  readonly s: readonly [number, number, number, number];
  /** The cached second Box–Muller value, or null when none is pending. */
  readonly spareNormal: number | null;
}

/** What a seed may be: an integer in [0, 2^53) or any string (hashed). */
type RngSeed = number | string;

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** The 32-bit finaliser of MurmurHash3-like mixers (a bijection on uint32; lowbias32 constants). */
function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** Hashes a string to four 32-bit words (four FNV-1a lanes with different offsets, then mixed). */
function hashString(text: string): [number, number, number, number] {
  const lanes: [number, number, number, number] = [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    for (let k = 0; k < 4; k++) {
      lanes[k] = Math.imul((lanes[k] ^ c) >>> 0, 0x01000193 + 2 * k) >>> 0;
    }
  }
  for (let k = 0; k < 4; k++) lanes[k] = mix32((lanes[k] + Math.imul(text.length, 0x27d4eb2f)) >>> 0);
  return lanes;
}

/** Turns a seed into four state words; integer seeds map injectively (mix32 is a bijection). */
function seedToWords(seed: RngSeed): [number, number, number, number] {
  if (typeof seed === 'string') {
    const h = hashString(seed);
    return [mix32(h[0] ^ 0x6a09e667), mix32(h[1] ^ 0xbb67ae85), mix32(h[2] ^ 0x3c6ef372), mix32(h[3] ^ 0xa54ff53a)];
  }
  if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_53) {
    throw new RangeError(`Rng seed must be an integer in [0, 2^53) or a string; got ${String(seed)}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  // Word 0 depends bijectively on lo and word 1 on hi, so (lo, hi) → state is injective.
  return [mix32(lo ^ 0x9e3779b9), mix32(hi ^ 0x7f4a7c15), mix32(lo ^ 0xf39cc060), mix32(hi ^ 0x5ced1b1e)];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seedable generator: uniform doubles and integers, normals, choice, shuffle, permutation, forks. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  /** Seeds the generator from an integer in [0, 2^53) or a string. */
  constructor(seed: RngSeed = 0) {
    this.setWords(seedToWords(seed));
    // Diffuse the seed through the state before the first output is used.
    for (let i = 0; i < 16; i++) this.nextUint32();
  }

  /** Builds a generator positioned exactly at `state`. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  private setWords(w: readonly number[]): void {
    if (w.length !== 4 || w.some((x) => !Number.isInteger(x) || x < 0 || x >= TWO_POW_32)) {
      throw new RangeError(`Rng state words must be four integers in [0, 2^32); got ${JSON.stringify(w)}`);
    }
    if (w.every((x) => x === 0)) {
      throw new RangeError('Rng state words must not all be zero (xoshiro128** would output only zeros)');
    }
    [this.s0, this.s1, this.s2, this.s3] = [w[0], w[1], w[2], w[3]];
  }

  /** The next raw 32-bit output, an integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (consumes two 32-bit outputs). */
  next(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / TWO_POW_53;
  }

  /** A uniform integer in [0, n), without modulo bias. n must be an integer in [1, 2^53]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_53) {
      throw new RangeError(`Rng.int(n): n must be an integer in [1, 2^53]; got ${String(n)}`);
    }
    if (n <= TWO_POW_32) {
      // Reject the lowest (2^32 mod n) values so that every residue is equally likely.
      const threshold = (TWO_POW_32 - n) % n;
      for (;;) {
        const r = this.nextUint32();
        if (r >= threshold) return r % n;
      }
    }
    const limit = Math.floor(TWO_POW_53 / n) * n;
    for (;;) {
      const x = this.next() * TWO_POW_53; // an integer in [0, 2^53)
      if (x < limit) return x % n;
    }
  }

  /** A standard normal N(0, 1) variate (Box–Muller; the paired value is cached in the state). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = 1 - this.next(); // (0, 1], so log is finite
    const u2 = this.next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** A uniformly chosen element of a non-empty array. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.choice(items): items must not be empty');
    return items[this.int(items.length)];
  }

  /** Shuffles `items` in place (Fisher–Yates, uniform over permutations) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A uniformly random permutation of 0..n-1 (like numpy's `np.random.permutation(n)`). */
  permutation(n: number): number[] {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`Rng.permutation(n): n must be a non-negative integer; got ${String(n)}`);
    }
    const out = Array.from({ length: n }, (_, i) => i);
    return this.shuffle(out);
  }

  /**
   * An independent generator for the stream named `label`, derived from this generator's current
   * state. The parent is NOT advanced, so forking the same label twice at the same point gives the
   * same stream, and different labels give unrelated streams.
   */
  fork(label: string): Rng {
    const h = hashString(label);
    const child = new Rng(0);
    const words: number[] = [
      mix32(this.s0 ^ h[0]),
      mix32(this.s1 ^ h[1]),
      mix32(this.s2 ^ h[2]),
      mix32((this.s3 ^ h[3] ^ 0x1b873593) >>> 0),
    ];
    if (!words.some((w) => w !== 0)) words[0] = 1; // the all-zero state is forbidden
    child.setWords(words);
    for (let i = 0; i < 16; i++) child.nextUint32();
    return child;
  }

  /** A snapshot of the full state (JSON-able). */
  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spare };
  }

  /** Restores a snapshot taken with {@link state}. */
  setState(state: RngState): void {
    if (state === null || typeof state !== 'object' || state.algorithm !== 'xoshiro128**') {
      throw new TypeError(
        `Rng.setState: state.algorithm must be 'xoshiro128**'; got ${JSON.stringify((state as { algorithm?: unknown } | null)?.algorithm)}`,
      );
    }
    if (!Array.isArray(state.s)) throw new TypeError('Rng.setState: state.s must be an array of four uint32 words');
    const spare = state.spareNormal;
    if (spare !== null && (typeof spare !== 'number' || !Number.isFinite(spare))) {
      throw new TypeError(`Rng.setState: state.spareNormal must be a finite number or null; got ${String(spare)}`);
    }
    this.setWords(state.s);
    this.spare = spare;
  }
}
