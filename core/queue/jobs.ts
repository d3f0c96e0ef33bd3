/**
 * What a grid looks like on the queue: one BullMQ flow per enqueued grid — a parent job `grid` whose children are
 * the arms (job name = arm name). An arm job carries the arm's resolved config and its hash; the worker resolves
 * the same arm again from the experiment file in its own checkout and refuses to run it when the hashes differ.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson, planAblation, type AblateMode, type AblationPlan, type PlannedArm } from '../config/ablate.js';
import type { Json, JsonObject } from '../config/merge.js';
import { prepareExperiment, runDirOf, type PreparedExperiment } from '../config/prepare.js';
import type { AnyPluginDefinition } from '../plugin/define.js';

/** Data of an arm job. */
export interface ArmJobData {
  experiment: string;
  arm: string;
  /** Position of the arm in its grid. */
  index: number;
  /** The arm's grid settings (path → value), the whole grid and its mode: what arm.json records. */
  settings: Record<string, Json>;
  grid: Record<string, Json[]>;
  mode: AblateMode;
  /** The arm's resolved config (what resolved-config.json holds, without `$source`). */
  config: JsonObject;
  /** sha256 of the canonical JSON of `config`. */
  hash: string;
  /** The experiment file relative to the project root (forward slashes), and the `--set`s it was enqueued with. */
  source: string;
  set: string[];
  enqueuedAt: string;
  /** host:pid of the enqueuing command. */
  enqueuedBy: string;
}

/** Data of a grid (parent) job. */
export interface GridJobData {
  experiment: string;
  arms: string[];
  source: string;
  set: string[];
  enqueuedAt: string;
  enqueuedBy: string;
}

/** Progress an arm job reports (job.progress), from the trainer's step reports. */
export interface ArmProgress {
  worker: string;
  /** PPO steps done and planned. */
  step: number;
  totalSteps: number;
  /** Training wall time so far (across resumes), ms. */
  elapsedMs?: number;
  /** Estimated time to the last step, ms. */
  etaMs?: number;
  /** The step this attempt started (resumed) from. */
  fromStep?: number;
  updatedAt: string;
}

/** What a finished arm job returns. */
export interface ArmJobResult {
  status: 'done';
  /** True when the arm folder already held the finished run (a re-delivered job): nothing was run. */
  finishedBefore: boolean;
  step: number;
  worker: string;
  runDir: string;
  wallMs: number;
}

/** A config as plain JSON, without the grid keys. */
export function armConfig(prepared: PreparedExperiment): JsonObject {
  const config = JSON.parse(JSON.stringify(prepared.config)) as JsonObject;
  delete config.ablate;
  delete config.ablateMode;
  return config;
}

/** sha256 (hex) of a config's canonical JSON (object keys sorted). */
export const configHash = (config: Json): string => createHash('sha256').update(canonicalJson(config)).digest('hex');

/**
 * The grid an experiment file declares (every arm validated), or — for an experiment without `ablate` — the
 * single arm `main`, as a one-arm grid.
 */
export async function planArms(opts: {
  file?: string;
  set?: readonly string[];
  cwd?: string;
  builtins: readonly AnyPluginDefinition[];
}): Promise<AblationPlan> {
  const plan = await planAblation(opts);
  if (plan) return plan;
  const prepared = await prepareExperiment(opts);
  const arm: PlannedArm = { name: 'main', settings: [], prepared, runDir: runDirOf(prepared) };
  return {
    experiment: prepared.config.experiment,
    experimentDir: path.dirname(arm.runDir),
    mode: 'product',
    axes: [],
    arms: [arm],
    source: path.relative(opts.cwd ?? process.cwd(), prepared.raw.filepath) || prepared.raw.filepath,
  };
}

/** The job data of every arm of a plan. */
export function armJobs(plan: AblationPlan, set: readonly string[], enqueuedBy: string): ArmJobData[] {
  const grid = Object.fromEntries(plan.axes.map((a) => [a.path, a.values]));
  const enqueuedAt = new Date().toISOString();
  return plan.arms.map((arm, index) => {
    const config = armConfig(arm.prepared);
    return {
      experiment: plan.experiment,
      arm: arm.name,
      index,
      settings: Object.fromEntries(arm.settings.map((s) => [s.path, s.value])),
      grid,
      mode: plan.mode,
      config,
      hash: configHash(config),
      source: path.relative(arm.prepared.raw.baseDir, arm.prepared.raw.filepath).split(path.sep).join('/'),
      set: [...set],
      enqueuedAt,
      enqueuedBy,
    };
  });
}

/**
 * The arm a job names, resolved again from the experiment file under `projectDir` (this machine's checkout) with
 * the job's `--set`s. Throws an Error whose message says what is missing or invalid.
 */
export async function resolveArmHere(data: ArmJobData, projectDir: string, builtins: readonly AnyPluginDefinition[]): Promise<PlannedArm> {
  const file = path.resolve(projectDir, data.source);
  if (!fs.existsSync(file)) throw new Error(`the experiment file ${data.source} is not in this worker's project (${projectDir})`);
  const plan = await planArms({ file, set: data.set, cwd: projectDir, builtins });
  const arm = plan.arms.find((a) => a.name === data.arm);
  if (!arm) {
    throw new Error(`${data.source} no longer has the arm "${data.arm}" (its arms now: ${plan.arms.map((a) => a.name).join(', ')})`);
  }
  return arm;
}
