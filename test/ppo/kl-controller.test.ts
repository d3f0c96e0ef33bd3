import test from 'ava';
import { AdaptiveKLController, createKLController, FixedKLController, klControllerFromState } from '../../core/ppo/kl-controller.js';
import { loadGolden } from './golden-fixture.js';

const golden = loadGolden();

test('adaptive controller: every golden update sequence, exactly', (t) => {
  t.is(golden.adaptive_kl_controller.length, 2);
  for (const seq of golden.adaptive_kl_controller) {
    const ctl = new AdaptiveKLController(seq.init_kl_coef, seq.target, seq.horizon);
    for (const u of seq.updates) {
      t.is(ctl.value, u.value_before);
      ctl.update(u.current, u.n_steps);
      t.is(ctl.value, u.value_after, `current ${u.current}, n ${u.n_steps}`);
    }
  }
  // PPO.md's worked example.
  const ex = new AdaptiveKLController(0.2, 6, 10000);
  ex.update(8, 256);
  t.is(ex.value, 0.2 * (1 + 0.2 * 0.0256));
});

test('adaptive controller clips the proportional error to ±0.2', (t) => {
  const up = new AdaptiveKLController(1, 1, 100);
  up.update(1000, 10);
  t.is(up.value, 1 + (0.2 * 10) / 100);
  const down = new AdaptiveKLController(1, 1, 100);
  down.update(-50, 10);
  t.is(down.value, 1 - (0.2 * 10) / 100);
});

test('fixed controller: update is a no-op (golden)', (t) => {
  const f = golden.fixed_kl_controller;
  const ctl = new FixedKLController(f.init_kl_coef);
  ctl.update(123, 456);
  t.is(ctl.value, f.after_update);
});

test('createKLController follows adap_kl_ctrl; state round-trips through JSON and resumes', (t) => {
  const adaptive = createKLController({ adapKlCtrl: true, initKlCoef: 0.2, target: 6, horizon: 10000 });
  const fixed = createKLController({ adapKlCtrl: false, initKlCoef: 0.1, target: 6, horizon: 10000 });
  t.true(adaptive instanceof AdaptiveKLController);
  t.true(fixed instanceof FixedKLController);
  adaptive.update(8, 256);
  const resumed = klControllerFromState(JSON.parse(JSON.stringify(adaptive.state())));
  t.deepEqual(resumed.state(), adaptive.state());
  adaptive.update(3, 256);
  resumed.update(3, 256);
  t.is(resumed.value, adaptive.value);
  t.deepEqual(klControllerFromState(fixed.state()).state(), { kind: 'fixed', value: 0.1 });
  t.throws(() => klControllerFromState({ kind: 'pid' } as never), { message: /state.kind must be 'adaptive' or 'fixed'; got "pid"/ });
  t.throws(() => AdaptiveKLController.fromState(fixed.state()), { message: /must be 'adaptive'/ });
  t.throws(() => new AdaptiveKLController(0.2, 0, 10000), { message: /target must be a positive finite number; got 0/ });
  t.throws(() => new FixedKLController(NaN), { message: /klCoef must be a finite number; got NaN/ });
});
