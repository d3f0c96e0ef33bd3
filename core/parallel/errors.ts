/** A worker thread of the data-parallel pool failed (threw, exited, or could not build its replica). */
export class WorkerCrashError extends Error {
  constructor(
    /** Rank of the worker (1..N-1; rank 0 is the main thread). */
    readonly rank: number,
    /** What the worker reported. */
    readonly detail: string,
  ) {
    super(`worker thread ${rank} failed: ${detail}`);
    this.name = 'WorkerCrashError';
  }
}
