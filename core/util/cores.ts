/**
 * How many cores this process may use: the machine's, shared evenly by the grid arms running side by side
 * (`detox-lab run <grid> --parallel N` tells each arm through DETOX_GRID_PARALLEL), at least 1. `workers: "auto"` and
 * the native matmul's default BLAS threads read it, so N arms never start N × cores threads.
 */
import os from 'node:os';

/** Environment variable the grid runner sets for its arms: how many arms run at the same time. */
export const GRID_PARALLEL_ENV = 'DETOX_GRID_PARALLEL';

export function coresForThisProcess(env: NodeJS.ProcessEnv = process.env, cores = os.availableParallelism()): number {
  const raw = env[GRID_PARALLEL_ENV];
  const arms = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(arms) || arms < 1) throw new Error(`${GRID_PARALLEL_ENV} must be a positive integer, got ${JSON.stringify(raw)}`);
  return Math.max(1, Math.floor(cores / arms));
}
