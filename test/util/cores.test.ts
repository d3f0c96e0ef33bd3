import test from 'ava';
import { coresForThisProcess, GRID_PARALLEL_ENV } from '../../core/util/cores.js';
import { resolveWorkers } from '../../core/parallel/parallel-compute.js';
import { defaultBlasThreads } from '../../core/model/wasm/native-matmul.js';

test('cores: grid arms side by side share the machine; at least 1; a bad value is named', (t) => {
  t.is(coresForThisProcess({}, 8), 8);
  t.is(coresForThisProcess({ [GRID_PARALLEL_ENV]: '2' }, 8), 4);
  t.is(coresForThisProcess({ [GRID_PARALLEL_ENV]: '3' }, 8), 2);
  t.is(coresForThisProcess({ [GRID_PARALLEL_ENV]: '4' }, 2), 1);
  t.throws(() => coresForThisProcess({ [GRID_PARALLEL_ENV]: 'two' }, 8), {
    message: /DETOX_GRID_PARALLEL must be a positive integer, got "two"/,
  });
  t.throws(() => coresForThisProcess({ [GRID_PARALLEL_ENV]: '0' }, 8), { message: /positive integer/ });
});

test("cores: workers 'auto' and the default BLAS threads take this process's share", (t) => {
  const before = process.env[GRID_PARALLEL_ENV];
  try {
    delete process.env[GRID_PARALLEL_ENV];
    const all = coresForThisProcess();
    t.is(resolveWorkers('auto'), all);
    t.is(resolveWorkers('auto', 'tensorflow'), 1);
    t.is(resolveWorkers(3), 3);
    t.is(defaultBlasThreads(1), all);
    process.env[GRID_PARALLEL_ENV] = String(all * 2);
    t.is(resolveWorkers('auto'), 1);
    t.is(defaultBlasThreads(1), 1);
  } finally {
    if (before === undefined) delete process.env[GRID_PARALLEL_ENV];
    else process.env[GRID_PARALLEL_ENV] = before;
  }
});
