import test from 'ava';
import { ModelQueue } from '../../core/serve/queue.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

test('jobs run one at a time in arrival order; positions count the jobs ahead', async (t) => {
  const q = new ModelQueue();
  const order: string[] = [];
  const gates = { a: deferred(), b: deferred(), c: deferred() };
  const job = (name: 'a' | 'b' | 'c') =>
    q.run(name, async () => {
      order.push(`start ${name}`);
      await gates[name].promise;
      order.push(`end ${name}`);
      return name;
    });
  const pa = job('a');
  const pb = job('b');
  const pc = job('c');
  await Promise.resolve();
  t.is(q.length, 3);
  t.deepEqual(
    ['a', 'b', 'c', 'z'].map((k) => q.position(k)),
    [0, 1, 2, -1],
  );
  gates.c.resolve(); // c may not overtake
  gates.a.resolve();
  t.is(await pa, 'a');
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    ['b', 'c'].map((k) => q.position(k)),
    [0, 1],
  );
  gates.b.resolve();
  t.deepEqual(await Promise.all([pb, pc]), ['b', 'c']);
  t.deepEqual(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  t.is(q.length, 0);
});

test('a failing job rejects only its caller; drain rejects the waiting ones and lets the running one finish', async (t) => {
  const q = new ModelQueue();
  await t.throwsAsync(
    q.run('x', async () => {
      throw new Error('boom');
    }),
    { message: 'boom' },
  );
  t.is(await q.run('y', async () => 42), 42);
  const gate = deferred();
  const running = q.run('r', async () => {
    await gate.promise;
    return 'done';
  });
  const waiting = q.run('w', async () => 'never');
  await Promise.resolve();
  q.drain(new Error('closing'));
  await t.throwsAsync(waiting, { message: 'closing' });
  gate.resolve();
  t.is(await running, 'done');
  t.is(q.length, 0);
});
