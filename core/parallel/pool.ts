/**
 * The worker threads of the data-parallel compute (ranks 1..N-1; rank 0 is the main thread): start, request/answer
 * by id, failure and shutdown. A worker that throws, exits or fails to build its replica rejects every pending and
 * later request with a {@link WorkerCrashError} naming it, so a caller never waits on a dead thread. Threads are
 * referenced only while a request is pending, so an idle pool never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import { WorkerCrashError } from './errors.js';
import type { WorkerInit, WorkerMessage, WorkerRequest, WorkerResults } from './protocol.js';

/** Distributive Omit: keeps each request variant's own fields. */
type RequestBody<R> = R extends unknown ? Omit<R, 'id' | 'weightsVersion'> : never;
/** A request without its id and weights version (the pool adds them). */
type RequestOf<K extends WorkerRequest['op']> = RequestBody<Extract<WorkerRequest, { op: K }>>;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

let live = 0;

/** Data-parallel worker threads of this process that have not exited yet (every pool together). */
export function liveWorkerThreads(): number {
  return live;
}

class Rank {
  readonly pending = new Map<number, Pending>();
  failure: WorkerCrashError | null = null;
  exited = false;

  constructor(
    readonly rank: number,
    readonly worker: Worker,
  ) {
    live++;
    worker.once('exit', () => {
      this.exited = true;
      live--;
    });
  }

  fail(err: WorkerCrashError): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.worker.unref();
  }
}

/** Worker threads running core/parallel/worker-entry.js. */
export class WorkerPool {
  private nextId = 1;
  private closing = false;

  private constructor(private readonly ranks: Rank[]) {}

  /**
   * Starts one worker per init (ranks 1..N-1) and waits until each has built its replica.
   * @throws WorkerCrashError when a worker cannot start (every started worker is terminated first)
   */
  static async start(inits: readonly WorkerInit[]): Promise<WorkerPool> {
    const entry = new URL('./worker-entry.js', import.meta.url);
    const ranks = inits.map((init) => new Rank(init.rank, new Worker(entry, { workerData: init, execArgv: [] })));
    const pool = new WorkerPool(ranks);
    const ready = ranks.map(
      (r) =>
        new Promise<void>((resolve, reject) => {
          const onMessage = (m: WorkerMessage) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'init-error') reject(new WorkerCrashError(r.rank, `could not build its policy replica: ${m.message}`));
          };
          r.worker.on('message', onMessage);
          r.worker.once('error', (e) => reject(new WorkerCrashError(r.rank, e.message)));
          r.worker.once('exit', (code) => reject(new WorkerCrashError(r.rank, `exited with code ${code} while starting`)));
        }),
    );
    try {
      await Promise.all(ready);
    } catch (err) {
      await pool.close();
      throw err;
    }
    for (const r of ranks) pool.watch(r);
    return pool;
  }

  /** Worker ranks (1..N-1). */
  get size(): number {
    return this.ranks.length;
  }

  /** Worker threads that have not exited yet. */
  get liveThreads(): number {
    return this.ranks.filter((r) => !r.exited).length;
  }

  /** The first failure of any worker, or null. */
  get failure(): WorkerCrashError | null {
    return this.ranks.find((r) => r.failure)?.failure ?? null;
  }

  private watch(r: Rank): void {
    r.worker.unref();
    r.worker.on('message', (m: WorkerMessage) => {
      if (m.type !== 'result' && m.type !== 'error') return;
      const p = r.pending.get(m.id);
      if (!p) return;
      r.pending.delete(m.id);
      if (r.pending.size === 0) r.worker.unref();
      if (m.type === 'result') p.resolve(m.result);
      else r.fail(new WorkerCrashError(r.rank, m.message));
      if (m.type === 'error') p.reject(r.failure!);
    });
    r.worker.on('error', (e) => r.fail(new WorkerCrashError(r.rank, e?.message ?? String(e))));
    r.worker.on('messageerror', (e) => r.fail(new WorkerCrashError(r.rank, `could not read its message: ${e.message}`)));
    r.worker.on('exit', (code) =>
      r.fail(new WorkerCrashError(r.rank, this.closing ? 'the pool was closed' : `exited unexpectedly with code ${code}`)),
    );
  }

  /**
   * Sends a request to worker `rank` (1-based) and resolves with its answer.
   * @throws WorkerCrashError when that worker failed before or while answering
   */
  request<K extends WorkerRequest['op']>(rank: number, weightsVersion: number, body: RequestOf<K>): Promise<WorkerResults[K]> {
    const r = this.ranks[rank - 1];
    if (!r) return Promise.reject(new RangeError(`WorkerPool.request: rank must be in [1, ${this.ranks.length}]; got ${rank}`));
    if (r.failure) return Promise.reject(r.failure);
    const id = this.nextId++;
    return new Promise<WorkerResults[K]>((resolve, reject) => {
      r.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      r.worker.ref();
      r.worker.postMessage({ ...body, id, weightsVersion } as WorkerRequest);
    });
  }

  /** Terminates every worker (idempotent); pending requests reject. Resolves when every thread has exited. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.ranks.map(async (r) => {
        r.fail(new WorkerCrashError(r.rank, 'the pool was closed'));
        await r.worker.terminate();
      }),
    );
  }
}
