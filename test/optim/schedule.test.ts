import test from 'ava';
import { scheduleMultiplier, validateSchedule } from '../../core/optim/schedule.js';
import { loadTorchReference } from './fixture.js';

const ref = loadTorchReference();

for (const s of ref.schedules) {
  test(`${s.kind} warmup ${s.warmupSteps} total ${s.totalSteps} equals transformers' LambdaLR multipliers`, (t) => {
    s.multipliers.forEach((want, step) => {
      const got = scheduleMultiplier(s, step);
      t.true(Math.abs(got - want) <= 1e-15, `step ${step}: ${got} vs ${want}`);
    });
  });
}

test('literal multipliers: warm-up starts at 0, linear and cosine reach 0 at totalSteps', (t) => {
  const lin = { kind: 'linear' as const, warmupSteps: 2, totalSteps: 6 };
  t.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((s) => scheduleMultiplier(lin, s)),
    [0, 0.5, 1, 0.75, 0.5, 0.25, 0],
  );
  const cos = { kind: 'cosine' as const, warmupSteps: 0, totalSteps: 4 };
  const want = [1, 0.5 * (1 + Math.SQRT1_2), 0.5, 0.5 * (1 - Math.SQRT1_2), 0];
  [0, 1, 2, 3, 4].forEach((s) => t.true(Math.abs(scheduleMultiplier(cos, s) - want[s]!) < 1e-15));
  const con = { kind: 'constant' as const, warmupSteps: 4, totalSteps: 1 };
  t.deepEqual(
    [0, 1, 2, 3, 4, 100].map((s) => scheduleMultiplier(con, s)),
    [0, 0.25, 0.5, 0.75, 1, 1],
  );
});

test('past totalSteps the rate stays 0 (cosine does not rise again; linear is clamped)', (t) => {
  for (const kind of ['linear', 'cosine'] as const) {
    for (const step of [11, 15, 19, 40]) t.is(scheduleMultiplier({ kind, warmupSteps: 2, totalSteps: 10 }, step), 0);
  }
});

test('validateSchedule names the bad field', (t) => {
  t.throws(() => validateSchedule({ kind: 'cosine', warmupSteps: 5, totalSteps: 4 }), {
    message: /warmupSteps \(5\) must be ≤ totalSteps \(4\) for the cosine schedule/,
  });
  t.throws(() => validateSchedule({ kind: 'linear', warmupSteps: -1, totalSteps: 4 }), {
    message: /warmupSteps must be an integer ≥ 0 \(got -1\)/,
  });
  t.throws(() => validateSchedule({ kind: 'linear', warmupSteps: 0, totalSteps: 0 }), {
    message: /totalSteps must be an integer ≥ 1 \(got 0\)/,
  });
  t.throws(() => validateSchedule({ kind: 'step' as 'linear', warmupSteps: 0, totalSteps: 3 }), {
    message: /kind "step" is unknown; allowed: constant, linear, cosine/,
  });
  t.notThrows(() => validateSchedule({ kind: 'constant', warmupSteps: 50, totalSteps: 10 }));
});
