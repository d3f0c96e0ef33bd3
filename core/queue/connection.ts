/**
 * The `--queue` address: which Redis holds the arm jobs, and how to reach it.
 *
 *   redis://[[user]:password@]host[:port][/db]      (port 6379, db 0 by default)
 *   rediss://...                                    the same over TLS
 *
 * Without `--queue`, the commands use DETOX_LAB_QUEUE, then redis://127.0.0.1:6379.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { EXIT, UserError } from '../exit.js';

/** Environment variable naming the queue when `--queue` is not given. */
const QUEUE_ENV = 'DETOX_LAB_QUEUE';
const DEFAULT_QUEUE_URL = 'redis://127.0.0.1:6379';
/** BullMQ key prefix and queue name: keys are `detox-lab:arms:*`. */
export const QUEUE_PREFIX = 'detox-lab';
export const QUEUE_NAME = 'arms';

/** A parsed `--queue` address. */
export interface QueueAddress {
  /** As the user wrote it, with the password masked (for messages). */
  display: string;
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

const FORM = 'redis://host[:port][/db] (or rediss:// for TLS; user:password@ before the host if Redis needs it)';

/** Parses and checks a `--queue` value; a malformed one is a usage error naming the flag, the value and the form. */
export function parseQueueUrl(raw: string | undefined, flag = '--queue'): QueueAddress {
  const value = raw ?? process.env[QUEUE_ENV] ?? DEFAULT_QUEUE_URL;
  const from = raw !== undefined ? flag : process.env[QUEUE_ENV] !== undefined ? QUEUE_ENV : `${flag} (default)`;
  const bad = (why: string): never => {
    throw new UserError(`${from} ${JSON.stringify(value)}: ${why}; expected ${FORM}`);
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') bad(`unsupported scheme "${url.protocol.replace(/:$/, '')}"`);
  if (!url.hostname) bad('no host');
  if (url.search || url.hash) bad('no query or fragment is allowed');
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) bad(`the path must be a database number, got "${url.pathname}"`);
  const db = dbText === '' ? 0 : Number(dbText);
  const masked = url.password ? value.replace(`:${url.password}@`, ':***@') : value;
  return {
    display: masked,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:',
  };
}

/**
 * ioredis options for BullMQ: commands wait while Redis is away (no per-request retry limit, as BullMQ workers
 * require), and the client reconnects with a backoff capped at 5 s, forever.
 */
export function redisOptions(a: QueueAddress): RedisOptions {
  return {
    host: a.host,
    port: a.port,
    db: a.db,
    username: a.username,
    password: a.password,
    ...(a.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(200 * times, 5000),
  };
}

/**
 * Checks that Redis answers within `timeoutMs` before any work starts; otherwise a usage error (exit 2) with the
 * address, the cause and a hint.
 */
export async function checkReachable(a: QueueAddress, timeoutMs = 5000): Promise<void> {
  const client = new Redis({
    ...redisOptions(a),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let cause: Error | undefined;
  client.on('error', (e: Error) => {
    cause ??= e;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new UserError(
      `--queue ${a.display}: cannot reach Redis at ${a.host}:${a.port} (${(cause ?? (err as Error)).message}); ` +
        `is redis-server running there and reachable from this machine? (start one with: redis-server --port ${a.port})`,
      EXIT.usage,
    );
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
