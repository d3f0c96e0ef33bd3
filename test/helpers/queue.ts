import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { parseQueueUrl, QUEUE_NAME, QUEUE_PREFIX, redisOptions } from '../../core/queue/connection.js';
import { armStatuses, type ArmStatus } from '../../core/queue/status.js';
import { redisMissing } from './redis.js';
import { ROOT } from './tmp.js';

/** Why the queue tests cannot run here (no redis-server), if so. */
export const missing = redisMissing();
/** On CI (CI=true) a missing redis-server fails the queue tests; elsewhere they are skipped with a message. */
const onCi = process.env.CI === 'true';
export const skipQueueTests = Boolean(missing) && !onCi;

/** A tiny arm: a few small steps, a small evaluation. */
export const SMALL = {
  workers: 1,
  ppo: { batchSize: 2, miniBatchSize: 2, ppoEpochs: 1 },
  generation: { responseTokens: [3, 5] },
  eval: { maxNewTokens: 4, batchSize: 4 },
  train: { steps: 2, checkpointEvery: 1, sampleEvery: 1, progress: false },
};

/** The arms `queue status --json` lists (read in this process: a CLI start costs seconds on a loaded machine). */
export async function queueRows(url: string): Promise<ArmStatus[]> {
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(parseQueueUrl(url)), prefix: QUEUE_PREFIX });
  try {
    return await armStatuses(queue);
  } finally {
    await queue.close();
  }
}

/**
 * Config of a hook plugin that waits after each step (from `fromStep` on) as many ms as the project's file
 * `pause-ms` says, so a test can hold an arm mid-run; {@link writePauseHook} writes the plugin and the file.
 */
export const pauseHook = (fromStep = 1) => ({ plugins: ['./pause.mjs'], hooks: [{ type: 'pause', fromStep }] });

/** Writes the pause plugin and `pause-ms` (= ms) into a project; returns the path of `pause-ms`. */
export function writePauseHook(dir: string, ms: number): string {
  const file = path.join(dir, 'pause-ms');
  fs.writeFileSync(file, String(ms));
  fs.writeFileSync(
    path.join(dir, 'pause.mjs'),
    `import fs from 'node:fs';
import { definePlugin, z } from ${JSON.stringify(path.join(ROOT, 'dist/core/index.js'))};
const file = new URL('./pause-ms', import.meta.url);
export default definePlugin({
  kind: 'hook', name: 'pause', description: 'waits after each step as long as the file pause-ms says',
  options: z.object({ fromStep: z.number() }),
  create: (o) => ({ name: 'pause', onStep: (r) => r.step >= o.fromStep ? new Promise((res) => setTimeout(res, Number(fs.readFileSync(file, 'utf8')))) : undefined }),
});
`,
  );
  return file;
}
