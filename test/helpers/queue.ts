import { Queue } from 'bullmq';
import { parseQueueUrl, QUEUE_NAME, QUEUE_PREFIX, redisOptions } from '../../core/queue/connection.js';
import { armStatuses, type ArmStatus } from '../../core/queue/status.js';
import { redisMissing } from './redis.js';

/** Why the queue tests cannot run here (no redis-server), if so. */
export const missing = redisMissing();
/** On CI (CI=true) a missing redis-server fails the queue tests; elsewhere they are skipped with a message. */
export const onCi = process.env.CI === 'true';
export const skipQueueTests = Boolean(missing) && !onCi;

/** A tiny arm: a few small steps, a small evaluation. */
export const SMALL = {
  workers: 1, ppo: { batchSize: 2, miniBatchSize: 2, ppoEpochs: 1 }, generation: { responseTokens: [3, 5] },
  eval: { maxNewTokens: 4, batchSize: 4 }, train: { steps: 2, checkpointEvery: 1, sampleEvery: 1, progress: false },
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
