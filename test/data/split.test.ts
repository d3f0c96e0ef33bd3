import test from 'ava';
import { hashUnit, splitByHash, splitHead, splitItems } from '../../core/data/split.js';

const keys = Array.from({ length: 2000 }, (_, i) => `prompt number ${i}`);

test('hashUnit is a fixed function of (key, seed) in [0, 1)', (t) => {
  // Reference: int.from_bytes(hashlib.sha256(b"0\x00hello").digest()[:6], "big") / 2**48 in Python.
  t.is(hashUnit('hello', 0), 0.1169855574890839);
  t.not(hashUnit('hello', 1), hashUnit('hello', 0));
  for (const k of keys) {
    const u = hashUnit(k, 7);
    t.true(u >= 0 && u < 1);
  }
});

test('hash split: held-out share near the fraction, disjoint, covering, order kept', (t) => {
  const { train, heldOut } = splitByHash(keys, 0.2, 0, (k) => k);
  t.is(train.length + heldOut.length, keys.length);
  t.is(new Set([...train, ...heldOut]).size, keys.length);
  // Binomial(2000, 0.2): sd ≈ 17.9; this seed gives a share within 3 sd.
  t.true(Math.abs(heldOut.length - 400) < 54, `held out ${heldOut.length}`);
  t.deepEqual(
    train,
    keys.filter((k) => train.includes(k)),
  );
});

test('hash split is stable under reordering and under adding other rows; seeds differ', (t) => {
  const a = splitByHash(keys, 0.2, 3, (k) => k);
  const reversed = splitByHash([...keys].reverse(), 0.2, 3, (k) => k);
  t.deepEqual([...reversed.heldOut].sort(), [...a.heldOut].sort());
  const more = splitByHash([...keys, ...keys.map((k) => `${k}!`)], 0.2, 3, (k) => k);
  t.deepEqual(
    more.heldOut.filter((k) => !k.endsWith('!')),
    a.heldOut,
  );
  const other = splitByHash(keys, 0.2, 4, (k) => k);
  t.notDeepEqual(other.heldOut, a.heldOut);
});

test('duplicate keys land on the same side', (t) => {
  const items = [...keys.slice(0, 300), ...keys.slice(0, 300)];
  const { heldOut } = splitByHash(items, 0.5, 0, (k) => k);
  for (const k of heldOut) t.is(heldOut.filter((x) => x === k).length, 2);
});

test("head split matches datasets' train_test_split(test_size=f, shuffle=False): n_test = ceil(f·n)", (t) => {
  const ten = Array.from({ length: 10 }, (_, i) => i);
  t.deepEqual(splitHead(ten, 0.2), { train: [0, 1, 2, 3, 4, 5, 6, 7], heldOut: [8, 9] });
  // 0.2 × 12 = 2.4000000000000004 → 3 held out (Python's ceil gives the same).
  t.is(
    splitHead(
      Array.from({ length: 12 }, (_, i) => i),
      0.2,
    ).heldOut.length,
    3,
  );
  t.is(
    splitHead(
      Array.from({ length: 11 }, (_, i) => i),
      0.2,
    ).heldOut.length,
    3,
  );
  t.deepEqual(splitHead(ten, 0), { train: ten, heldOut: [] });
});

test('fractions outside [0, 1) and unknown modes are rejected', (t) => {
  t.throws(() => splitHead([1], 1), { message: 'heldOutFraction must be in [0, 1) (got 1)' });
  t.throws(() => splitByHash([1], -0.1, 0, String), { message: /\[0, 1\)/ });
  t.throws(() => splitItems([1], { mode: 'random' as 'hash', heldOutFraction: 0.2, seed: 0, keyOf: String }), {
    message: /unknown mode "random"; allowed: hash, head/,
  });
});
