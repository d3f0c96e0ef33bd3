import test from 'ava';
import { Rng, type RngState } from '../../core/util/rng.js';

/** Pearson chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

test('xoshiro128** known-answer vector (reference C implementation, state [1, 2, 3, 4])', (t) => {
  const r = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spareNormal: null });
  const out = Array.from({ length: 8 }, () => r.nextUint32());
  t.deepEqual(out, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  t.deepEqual(r.state().s, [857776784, 3957087773, 2428778008, 3837013768]);
});

test('same seed → same stream; different seeds (numbers and strings) → different streams', (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  const seqA = Array.from({ length: 100 }, () => a.next());
  t.deepEqual(
    seqA,
    Array.from({ length: 100 }, () => b.next()),
  );
  t.true(seqA.every((x) => x >= 0 && x < 1));
  const firsts = new Set<number>();
  for (let seed = 0; seed < 2000; seed++) firsts.add(new Rng(seed).nextUint32());
  t.true(firsts.size >= 1999, `distinct first outputs over 2000 seeds: ${firsts.size}`);
  t.not(new Rng(2 ** 40).nextUint32(), new Rng(0).nextUint32(), 'high bits of the seed matter');
  t.deepEqual(new Rng('run-a').state(), new Rng('run-a').state());
  t.notDeepEqual(new Rng('run-a').state(), new Rng('run-b').state());
  t.throws(() => new Rng(-1), { message: /seed must be an integer in \[0, 2\^53\) or a string; got -1/ });
  t.throws(() => new Rng(1.5), { message: /got 1.5/ });
});

test('resume from state() is exact, through JSON, including a pending Box–Muller value', (t) => {
  const r = new Rng(7);
  for (let i = 0; i < 37; i++) r.next();
  r.normal(); // leaves the paired normal cached
  const saved: RngState = JSON.parse(JSON.stringify(r.state()));
  t.not(saved.spareNormal, null);
  const tail = () => [r.normal(), r.next(), r.int(1000), r.normal(), r.normal(), ...r.permutation(6)];
  const expected = tail();
  const resumed = Rng.fromState(saved);
  t.deepEqual(
    [resumed.normal(), resumed.next(), resumed.int(1000), resumed.normal(), resumed.normal(), ...resumed.permutation(6)],
    expected,
  );
  const other = new Rng(1);
  other.setState(saved);
  t.is(other.normal(), expected[0]);
  t.throws(() => other.setState({ ...saved, s: [0, 0, 0, 0] }), { message: /must not all be zero/ });
  t.throws(() => other.setState({ ...saved, algorithm: 'mt19937' as 'xoshiro128**' }), {
    message: /algorithm must be 'xoshiro128\*\*'; got "mt19937"/,
  });
  t.throws(() => other.setState({ ...saved, s: [1, 2, 3, 2 ** 32] }), { message: /four integers in \[0, 2\^32\)/ });
});

test('uniformity: next() and int(n) pass chi-square bounds (p = 0.001); int() has no modulo bias', (t) => {
  const r = new Rng(2024);
  const N = 100_000;
  const bins = new Array(20).fill(0);
  for (let i = 0; i < N; i++) bins[Math.floor(r.next() * 20)]++;
  const c1 = chiSquare(bins);
  t.true(c1 < 43.82, `next(): chi-square ${c1.toFixed(2)} < 43.82 (df 19)`);
  const ints = new Array(10).fill(0);
  for (let i = 0; i < N; i++) ints[r.int(10)]++;
  const c2 = chiSquare(ints);
  t.true(c2 < 27.88, `int(10): chi-square ${c2.toFixed(2)} < 27.88 (df 9)`);
  // n = 3·2^30: a plain modulo of a 32-bit draw would make the lowest third twice as likely.
  const n = 3 * 2 ** 30;
  const thirds = [0, 0, 0];
  let outOfRange = 0;
  for (let i = 0; i < 30_000; i++) {
    const x = r.int(n);
    if (!(Number.isInteger(x) && x >= 0 && x < n)) outOfRange++;
    else thirds[Math.floor(x / 2 ** 30)]++;
  }
  t.is(outOfRange, 0);
  const c3 = chiSquare(thirds);
  t.true(c3 < 13.82, `int(3·2^30) thirds ${thirds.join('/')}: chi-square ${c3.toFixed(2)} < 13.82 (df 2)`);
  // Beyond 32 bits.
  const big = 2 ** 45 + 12345;
  const halves = [0, 0];
  for (let i = 0; i < 20_000; i++) halves[r.int(big) < big / 2 ? 0 : 1]++;
  t.true(chiSquare(halves) < 10.83, `int(2^45+12345) halves ${halves.join('/')}`);
  t.throws(() => r.int(0), { message: /n must be an integer in \[1, 2\^53\]; got 0/ });
  t.throws(() => r.int(2.5), { message: /got 2.5/ });
  t.is(r.int(1), 0);
});

test('normal(): mean ≈ 0, variance ≈ 1, symmetric tails', (t) => {
  const r = new Rng(99);
  const N = 100_000;
  let s = 0;
  let ss = 0;
  let beyond2 = 0;
  for (let i = 0; i < N; i++) {
    const z = r.normal();
    s += z;
    ss += z * z;
    if (Math.abs(z) > 2) beyond2++;
  }
  const mean = s / N;
  const variance = ss / N - mean * mean;
  t.true(Math.abs(mean) < 0.015, `mean ${mean}`); // 4.7 standard errors
  t.true(Math.abs(variance - 1) < 0.02, `variance ${variance}`);
  t.true(Math.abs(beyond2 / N - 0.0455) < 0.004, `P(|z| > 2) = ${beyond2 / N}`);
});

test('shuffle/permutation are Fisher–Yates uniform; choice picks every element; errors are explicit', (t) => {
  const r = new Rng(5);
  const counts = new Map<string, number>();
  for (let i = 0; i < 60_000; i++) {
    const key = r.permutation(3).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  t.is(counts.size, 6);
  const c = chiSquare([...counts.values()]);
  t.true(c < 20.52, `permutation(3): chi-square ${c.toFixed(2)} < 20.52 (df 5)`);
  const arr = ['a', 'b', 'c', 'd', 'e'];
  const same = r.shuffle(arr);
  t.is(same, arr, 'shuffles in place');
  t.deepEqual([...arr].sort(), ['a', 'b', 'c', 'd', 'e']);
  t.deepEqual(r.permutation(0), []);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(r.choice([10, 20, 30, 40]));
  t.deepEqual([...seen].sort(), [10, 20, 30, 40]);
  t.throws(() => r.choice([]), { message: /items must not be empty/ });
  t.throws(() => r.permutation(-2), { message: /non-negative integer; got -2/ });
});

test('fork(label): reproducible, independent of the parent and of other labels, parent not advanced', (t) => {
  const parent = new Rng(11);
  const before = parent.state();
  const a1 = parent.fork('dataset');
  const a2 = parent.fork('dataset');
  const b = parent.fork('sampling');
  t.deepEqual(parent.state(), before, 'forking does not advance the parent');
  const seqA1 = Array.from({ length: 50 }, () => a1.nextUint32());
  t.deepEqual(
    seqA1,
    Array.from({ length: 50 }, () => a2.nextUint32()),
  );
  const seqB = Array.from({ length: 50 }, () => b.nextUint32());
  const seqP = Array.from({ length: 50 }, () => parent.nextUint32());
  const overlap = (x: number[], y: number[]) => x.filter((v, i) => v === y[i]).length;
  t.is(overlap(seqA1, seqB), 0);
  t.is(overlap(seqA1, seqP), 0);
  // The child stream is uncorrelated with a sibling's (Pearson r over 20k doubles).
  const x = parent.fork('x');
  const y = parent.fork('y');
  const N = 20_000;
  let sx = 0,
    sy = 0,
    sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < N; i++) {
    const u = x.next();
    const v = y.next();
    sx += u;
    sy += v;
    sxy += u * v;
    sxx += u * u;
    syy += v * v;
  }
  const r = (sxy - (sx * sy) / N) / Math.sqrt((sxx - (sx * sx) / N) * (syy - (sy * sy) / N));
  t.true(Math.abs(r) < 0.03, `correlation ${r}`);
  // A fork taken later differs (it depends on the parent's current position).
  t.notDeepEqual(parent.fork('dataset').state(), a1.state());
});
