import test from 'ava';
import { incompleteBeta, logGamma, mean, meanCi95, sampleStd, studentTCdf, studentTQuantile } from '../../core/compare/stats.js';

// References: closed forms for df = 1 (tan(0.475π)) and df = 2 ((2p−1)·√(2 / (4p(1−p)))); the others from Simpson
// integration of the t density with 2·10^5 intervals in Python (float64), agreeing with published tables.
const T975: [number, number][] = [
  [1, 12.706204736174696],
  [2, 4.302652729749464],
  [3, 3.182446305283708],
  [4, 2.776445105197781],
  [5, 2.570581835636327],
  [9, 2.2621571627982195],
  [29, 2.0452296421327283],
];

test('t(0.975, df) matches closed forms and tables', (t) => {
  for (const [df, ref] of T975) {
    const q = studentTQuantile(0.975, df);
    t.true(Math.abs(q - ref) < 1e-9 * ref, `df ${df}: ${q} vs ${ref}`);
    t.true(Math.abs(studentTQuantile(0.025, df) + ref) < 1e-9 * ref);
  }
  t.is(studentTQuantile(0.5, 7), 0);
  // Large df tends to the normal quantile 1.959963984540054.
  t.true(Math.abs(studentTQuantile(0.975, 1e7) - 1.959963984540054) < 1e-6);
  t.throws(() => studentTQuantile(1, 3), { message: /p must be in \(0, 1\), got 1/ });
  t.throws(() => studentTQuantile(0.9, 0), { message: /df must be > 0, got 0/ });
});

test('t CDF, incomplete beta and log-gamma against references', (t) => {
  t.true(Math.abs(studentTCdf(1.5, 7) - 0.9113507565050154) < 1e-10);
  t.true(Math.abs(studentTCdf(-1.5, 7) - (1 - 0.9113507565050154)) < 1e-10);
  t.is(studentTCdf(0, 3), 0.5);
  // I_0.5(2, 3) = P(Binomial(4, 0.5) ≥ 2) = 11/16; I_x(1, 1) = x.
  t.true(Math.abs(incompleteBeta(0.5, 2, 3) - 11 / 16) < 1e-14);
  t.true(Math.abs(incompleteBeta(0.3, 1, 1) - 0.3) < 1e-14);
  t.is(incompleteBeta(0, 2, 3), 0);
  t.is(incompleteBeta(1, 2, 3), 1);
  // ln Γ: Γ(5) = 24, Γ(0.5) = √π, Γ(10.3) from Python's math.lgamma.
  t.true(Math.abs(logGamma(5) - Math.log(24)) < 1e-13);
  t.true(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-13);
  t.true(Math.abs(logGamma(10.3) - 13.48203678613836) < 1e-12);
});

test('mean ± 95% CI across seeds: t(0.975, n−1)·s/√n', (t) => {
  t.is(mean([1, 2, 3, 4]), 2.5);
  t.true(Math.abs(sampleStd([1, 2, 3, 4]) - Math.sqrt(5 / 3)) < 1e-15);
  const r = meanCi95([1, 2, 3, 4]);
  t.is(r.n, 4);
  t.is(r.mean, 2.5);
  t.true(Math.abs(r.ci95! - (3.182446305283708 * Math.sqrt(5 / 3)) / 2) < 1e-9);
  const two = meanCi95([0.2, 0.4]);
  t.true(Math.abs(two.ci95! - (12.706204736174696 * Math.sqrt(0.02)) / Math.SQRT2) < 1e-9);
  // Non-finite values are left out; one value has no interval; none gives NaN.
  t.deepEqual(meanCi95([3, NaN]), { mean: 3, ci95: null, n: 1 });
  const none = meanCi95([NaN]);
  t.true(Number.isNaN(none.mean));
  t.is(none.n, 0);
  t.is(meanCi95([5, 5, 5]).ci95, 0);
});
