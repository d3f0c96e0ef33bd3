import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Policy } from '../interfaces/policy.js';
import type { OptimiserState } from '../interfaces/optimiser.js';
import type { RngState } from '../util/rng.js';
import type { QueueState } from '../ppo/prompts.js';
import type { PpoStepperState } from '../ppo/step.js';
import { replaceDir } from '../util/replace-dir.js';
import { readSafetensors, writeSafetensors, type HostTensor } from '../model/io/safetensors.js';

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
  /** The statistics of the last steps (at most 10), so a resumed run's summary equals an uninterrupted run's. */
  recentStats?: Record<string, number>[];
  /** The resolved config the run was trained with up to this step (a resume refuses a different one). */
  config?: unknown;
  /** Whether some batch's rewards have varied so far (the zero-variance guard then never stops the run, core/ppo/reward.ts). */
  rewardVaried?: boolean;
}

const CHECKPOINTS = 'checkpoints';
/** Written last into a checkpoint: every other file with its size and sha256. */
export const MANIFEST = 'manifest.json';
const STEP_DIR = /^step-(\d+)$/;
/** Files a checkpoint cannot be resumed without (checked when an older checkpoint has no manifest). */
const REQUIRED = ['trainer-state.json', 'optimiser.safetensors', 'policy/config.json', 'policy/model.safetensors'];

interface Manifest {
  format: 'detox-lab-checkpoint';
  version: 1;
  files: Record<string, { bytes: number; sha256: string }>;
}

/**
 * Writes `checkpoints/step-N/` — policy/ (Hugging Face folder with the value head), optimiser.safetensors (moment
 * buffers), trainer-state.json and, last, manifest.json (size and sha256 of every other file) — into a temporary
 * folder first and renames it into place: a crash leaves either no `step-N` or a complete one, and a folder damaged
 * later fails its manifest and is ignored by resume.
 */
export async function writeCheckpoint(
  runDir: string,
  policy: Policy,
  optimiser: OptimiserState,
  state: TrainerState,
  name = `step-${state.step}`,
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
  const manifest: Manifest = { format: 'detox-lab-checkpoint', version: 1, files: {} };
  for (const rel of listFiles(tmp)) {
    const file = path.join(tmp, rel);
    manifest.files[rel] = { bytes: fs.statSync(file).size, sha256: sha256(file) };
  }
  writeFileDurably(path.join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await replaceDir(tmp, final);
  return final;
}

/** Relative paths (with '/') of every file below `dir`, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function writeFileDurably(file: string, text: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Why a checkpoint folder cannot be resumed from, or null when it is complete. `verify: 'sizes'` compares the files
 * with the manifest's sizes (cheap); `'checksums'` also recomputes every sha256. A checkpoint written before
 * manifests existed is complete when the files a resume reads are all there.
 */
export function checkpointProblem(dir: string, verify: 'sizes' | 'checksums' = 'sizes'): string | null {
  const manifestFile = path.join(dir, MANIFEST);
  if (!fs.existsSync(manifestFile)) {
    const missing = REQUIRED.filter((f) => !fs.existsSync(path.join(dir, f)));
    return missing.length ? `missing ${missing.join(', ')}` : null;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
    if (manifest.format !== 'detox-lab-checkpoint' || typeof manifest.files !== 'object') throw new Error('not a checkpoint manifest');
  } catch (err) {
    return `unreadable ${MANIFEST} (${(err as Error).message})`;
  }
  for (const [rel, want] of Object.entries(manifest.files)) {
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) return `missing ${rel}`;
    const bytes = fs.statSync(file).size;
    if (bytes !== want.bytes) return `${rel} has ${bytes} bytes, the manifest says ${want.bytes}`;
    if (verify === 'checksums' && sha256(file) !== want.sha256) return `${rel} does not match its sha256 in the manifest`;
  }
  return null;
}

/** The `checkpoints/step-N` folders of a run, newest first. */
export function stepCheckpoints(runDir: string): { step: number; dir: string }[] {
  const root = path.join(runDir, CHECKPOINTS);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((d) => STEP_DIR.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(root, m[0]) }))
    .sort((a, b) => b.step - a.step);
}

/** The newest complete `checkpoints/step-N` of a run folder (sizes checked against the manifest), or null. */
export function latestCheckpoint(runDir: string): string | null {
  return stepCheckpoints(runDir).find((c) => checkpointProblem(c.dir) === null)?.dir ?? null;
}

/**
 * The checkpoint a resume continues from: the newest one whose every file matches its manifest (checksums
 * recomputed), with the newer ones it had to skip and why.
 */
export function pickCheckpoint(runDir: string): { dir: string | null; step: number; skipped: { dir: string; problem: string }[] } {
  const skipped: { dir: string; problem: string }[] = [];
  for (const c of stepCheckpoints(runDir)) {
    const problem = checkpointProblem(c.dir, 'checksums');
    if (problem === null) return { dir: c.dir, step: c.step, skipped };
    skipped.push({ dir: c.dir, problem });
  }
  return { dir: null, step: 0, skipped };
}

/**
 * Keeps the newest `keep` step checkpoints and removes the older ones (never `failed-step-*`, which is kept for
 * inspection). Returns the removed folders.
 */
export function pruneCheckpoints(runDir: string, keep: number | null): string[] {
  if (keep === null) return [];
  const old = stepCheckpoints(runDir).slice(keep);
  for (const c of old) fs.rmSync(c.dir, { recursive: true, force: true });
  return old.map((c) => c.dir);
}

/** Removes the `.tmp-*` folders an interrupted checkpoint write left behind (the caller owns the run folder). */
export function removeCheckpointLeftovers(runDir: string): string[] {
  const root = path.join(runDir, CHECKPOINTS);
  if (!fs.existsSync(root)) return [];
  const leftovers = fs.readdirSync(root).filter((d) => d.startsWith('.tmp-') || /\.old-\d+-\d+$/.test(d));
  for (const d of leftovers) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  return leftovers;
}

/** Reads a checkpoint's trainer state and optimiser moments; errors name the checkpoint and the file. */
export async function readCheckpoint(dir: string): Promise<{ state: TrainerState; optimiser: OptimiserState }> {
  const problem = checkpointProblem(dir);
  if (problem) throw new Error(`checkpoint ${dir} is incomplete: ${problem}`);
  const state = readTrainerState(dir);
  const tensors = await readSafetensors(path.join(dir, 'optimiser.safetensors'));
  const arrays: OptimiserState['arrays'] = {};
  for (const [k, t] of tensors) arrays[k] = { shape: t.shape, data: t.data as Float32Array };
  return { state, optimiser: { step: state.optimiser.step, scalars: state.optimiser.scalars, arrays } };
}

/**
 * A checkpoint's optimiser moments keyed by the names `vars` have in this process. A variable's name starts with its
 * model's instance prefix (`causal_lm_<n>/`: TF.js needs names unique in the process), and which model got which
 * number depends on the order the plugins were built in (a reward model that is itself a transformer may be built
 * first). So each key is matched by the name after that prefix (the weight's Hugging Face name) when that is
 * unambiguous among `vars`; other keys are kept as they are (the optimiser then names what does not match).
 */
export function rebaseOptimiserState(state: OptimiserState, vars: readonly { name: string }[]): OptimiserState {
  const local = (name: string) => name.slice(name.indexOf('/') + 1);
  const byLocal = new Map<string, string | null>();
  for (const v of vars) byLocal.set(local(v.name), byLocal.has(local(v.name)) ? null : v.name);
  const rename = (key: string, suffix: RegExp): string => {
    const m = suffix.exec(key);
    if (!m) return key;
    const owner = key.slice(0, m.index);
    const now = byLocal.get(local(owner));
    return now ? `${now}${m[0]}` : key;
  };
  return {
    step: state.step,
    scalars: Object.fromEntries(Object.entries(state.scalars).map(([k, v]) => [k === 'scheduleStep' ? k : rename(k, /\/step$/), v])),
    arrays: Object.fromEntries(Object.entries(state.arrays).map(([k, v]) => [rename(k, /\/(m|v)$/), v])),
  };
}

/** A checkpoint's trainer-state.json. */
export function readTrainerState(dir: string): TrainerState {
  const statePath = path.join(dir, 'trainer-state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as TrainerState;
  } catch (err) {
    throw new Error(`checkpoint ${dir}: cannot read trainer-state.json (${(err as Error).message})`);
  }
  if (state.version !== 1) throw new Error(`checkpoint ${dir}: unsupported trainer-state version ${String(state.version)}`);
  return state;
}
