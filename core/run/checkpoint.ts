import fs from 'node:fs';
import path from 'node:path';
import type { Policy } from '../interfaces/policy.js';
import type { OptimiserState } from '../interfaces/optimiser.js';
import type { RngState } from '../util/rng.js';
import type { QueueState } from '../ppo/prompts.js';
import type { PpoStepperState } from '../ppo/step.js';
import { replaceDir } from '../util/replace-dir.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../model/safetensors.js';

/** Everything besides weights that a resumed run needs to continue exactly where it stopped. */
export interface TrainerState {
  version: 1;
  /** PPO steps completed. */
  step: number;
  rng: { generation: RngState; ppo: RngState };
  queue: QueueState;
  stepper: PpoStepperState;
  optimiser: { step: number; scalars: Record<string, number> };
  /** Evaluation of the initial policy, so a resumed run reports before/after without redoing it. */
  evalBefore?: unknown;
  /** Training wall time so far, in ms. */
  elapsedMs: number;
  /** Stats of the last (up to 10) steps, so a resumed run's summary equals an uninterrupted run's. */
  history?: Record<string, number>[];
}

export const CHECKPOINTS = 'checkpoints';
const STEP_DIR = /^step-(\d+)$/;

/**
 * Writes `checkpoints/step-N/` — policy/ (Hugging Face folder with the value head),
 * optimiser.safetensors (moment buffers) and trainer-state.json — into a temporary folder first
 * and renames it into place, so a crash never leaves a half-written checkpoint.
 */
export async function writeCheckpoint(
  runDir: string, policy: Policy, optimiser: OptimiserState, state: TrainerState, name = `step-${state.step}`,
): Promise<string> {
  const root = path.join(runDir, CHECKPOINTS);
  const final = path.join(root, name);
  const tmp = path.join(root, `.tmp-${name}-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await policy.save(path.join(tmp, 'policy'));
  const arrays = new Map<string, HostTensor>(
    Object.entries(optimiser.arrays).map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }]),
  );
  await writeSafetensors(path.join(tmp, 'optimiser.safetensors'), arrays, { format: 'detox-lab-optimiser' });
  const full: TrainerState = { ...state, optimiser: { step: optimiser.step, scalars: optimiser.scalars } };
  fs.writeFileSync(path.join(tmp, 'trainer-state.json'), `${JSON.stringify(full, null, 2)}\n`);
  await replaceDir(tmp, final);
  return final;
}

/** The newest complete `checkpoints/step-N` of a run folder, or null. */
export function latestCheckpoint(runDir: string): string | null {
  const root = path.join(runDir, CHECKPOINTS);
  if (!fs.existsSync(root)) return null;
  const steps = fs.readdirSync(root)
    .map((d) => STEP_DIR.exec(d))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(root, m[0], 'trainer-state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length ? path.join(root, `step-${steps[0]}`) : null;
}

export async function readCheckpoint(dir: string): Promise<{ state: TrainerState; optimiser: OptimiserState }> {
  const statePath = path.join(dir, 'trainer-state.json');
  if (!fs.existsSync(statePath)) throw new Error(`checkpoint ${dir} has no trainer-state.json`);
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as TrainerState;
  if (state.version !== 1) throw new Error(`checkpoint ${dir}: unsupported trainer-state version ${String(state.version)}`);
  const tensors = await readSafetensors(path.join(dir, 'optimiser.safetensors'));
  const arrays: OptimiserState['arrays'] = {};
  for (const [k, t] of tensors) arrays[k] = { shape: t.shape, data: t.data as Float32Array };
  return { state, optimiser: { step: state.optimiser.step, scalars: state.optimiser.scalars, arrays } };
}
