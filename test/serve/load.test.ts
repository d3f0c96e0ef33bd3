/**
 * A bounded load test on 127.0.0.1: 200 generation requests, 8 at a time, spread over two models. No request may
 * fail; p50 / p95 latency (queueing included) are printed.
 */
import test from 'ava';
import path from 'node:path';
import { call, servedProject, serveIn } from './helpers.js';

const REQUESTS = 200;
const CONCURRENCY = 8;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

test('200 requests, 8 concurrent: none fails; p50 / p95 latency reported', async (t) => {
  t.timeout(120_000);
  const dir = await servedProject({ run: false });
  const server = await serveIn(dir, { model: ['base=initial', `copy=${path.join(dir, 'models/policy')}`] });
  try {
    const latencies: number[] = [];
    const failures: string[] = [];
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        const start = performance.now();
        const r = await call(server.url, '/api/generate', {
          prompt: `Request ${i}: you are such a`,
          model: i % 2 ? 'copy' : 'base',
          maxNewTokens: 6,
          seed: i,
        });
        latencies.push(performance.now() - start);
        if (r.status !== 200) failures.push(`#${i}: ${r.status} ${r.text}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const wall = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const line =
      `serve load test: ${REQUESTS} requests, ${CONCURRENCY} concurrent, 2 models, 6 new tokens each: ` +
      `p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms, ` +
      `max ${latencies[latencies.length - 1]!.toFixed(0)} ms, ${(REQUESTS / wall).toFixed(1)} requests/s, ${failures.length} failed`;
    console.log(line);
    t.log(line);
    t.deepEqual(failures, []);
    t.is(latencies.length, REQUESTS);
    const q = await call(server.url, '/api/queue');
    t.deepEqual(q.body.models, { base: { length: 0, position: null }, copy: { length: 0, position: null } });
  } finally {
    await server.close();
  }
});
