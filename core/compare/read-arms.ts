/**
 * The arms of an experiment folder as `detox-lab compare` sees them: each arm folder's summary.json, arm.json (the
 * grid settings), resolved-config.json and TensorBoard scalar curves.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Json } from '../config/merge.js';
import { listEventFiles, readScalars, type ScalarPoint } from '../logging/tfevents.js';

/** The parts of summary.json (core/training/run-experiment.ts RunSummary) that compare reads. */
export interface SummaryFigures {
  status?: string;
  step?: number;
  totalSteps?: number;
  elapsedMs?: number;
  peakRssBytes?: number;
  final?: Record<string, number>;
  lastK?: Record<string, number>;
  evalBefore?: EvalFiguresLike;
  evalAfter?: EvalFiguresLike;
  error?: string;
}

/** Evaluation figures as summary.json stores them. */
export interface EvalFiguresLike {
  toxicity: { mean: number; std: number; n: number };
  distinct1?: number;
  distinct2: number;
  distinct3?: number;
  perplexity: number;
}

/** One arm folder, read. */
export interface ArmRecord {
  name: string;
  dir: string;
  /** Position in its grid (arm.json), when known. */
  index?: number;
  /** The whole grid the arm was run in (arm.json: path → values), as JSON, when known. */
  grid?: string;
  /** The grid settings of the arm (arm.json), when it belongs to a grid. */
  settings?: Record<string, Json>;
  /** resolved-config.json without `$source`. */
  config?: Record<string, unknown>;
  summary?: SummaryFigures;
  /** Scalar curves, one point per step (a step logged twice, e.g. after a resume, keeps its last value). */
  curves: Map<string, ScalarPoint[]>;
}

const readJson = (file: string): unknown => {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
  }
};

/** Whether a folder is a run folder (an arm). */
export function isArmFolder(dir: string): boolean {
  return ['resolved-config.json', 'summary.json'].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Curves of a run folder, deduplicated by step (the last value written for a step wins); empty without event files. */
export function readCurves(dir: string): Map<string, ScalarPoint[]> {
  if (listEventFiles(dir).length === 0) return new Map();
  // A running arm may be mid-append: ignore an incomplete last record.
  const raw = readScalars(dir, { allowTruncatedTail: true });
  const out = new Map<string, ScalarPoint[]>();
  for (const [tag, points] of raw) {
    const byStep = new Map<number, ScalarPoint>();
    for (const p of points) byStep.set(p.step, p); // points are sorted by step, file order kept: later wins
    out.set(
      tag,
      [...byStep.values()].sort((a, b) => a.step - b.step),
    );
  }
  return out;
}

/** Reads one arm folder. */
function readArm(dir: string): ArmRecord {
  const arm = readJson(path.join(dir, 'arm.json')) as
    { arm?: string; index?: number; settings?: Record<string, Json>; grid?: unknown } | undefined;
  const resolved = readJson(path.join(dir, 'resolved-config.json')) as Record<string, unknown> | undefined;
  let config: Record<string, unknown> | undefined;
  if (resolved) {
    const { $source: _s, ...rest } = resolved;
    config = rest;
  }
  return {
    name: path.basename(dir),
    dir,
    ...(typeof arm?.index === 'number' ? { index: arm.index } : {}),
    ...(arm?.grid !== undefined ? { grid: JSON.stringify(arm.grid) } : {}),
    ...(arm?.settings ? { settings: arm.settings } : {}),
    ...(config ? { config } : {}),
    summary: readJson(path.join(dir, 'summary.json')) as SummaryFigures | undefined,
    curves: readCurves(dir),
  };
}

/**
 * The arms of `dir`: its sub-folders holding resolved-config.json or summary.json (folders moved aside by a fresh
 * run, `*.old-*`, are left out), in grid order when all of them were run in the same grid, else in natural name
 * order (`seed-2` before `seed-10`); or `dir` itself when it is one run folder. Throws when there is none.
 */
export function readArms(dir: string): ArmRecord[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`compare: ${dir} is not a folder`);
  if (isArmFolder(dir)) return [readArm(dir)];
  const arms = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.includes('.old-') && isArmFolder(path.join(dir, e.name)))
    .map((e) => readArm(path.join(dir, e.name)));
  if (arms.length === 0) {
    throw new Error(
      `compare: no arm folders in ${dir} (expected runs/<experiment>/<arm>/ folders with resolved-config.json or summary.json)`,
    );
  }
  const byName = (a: ArmRecord, b: ArmRecord) => a.name.localeCompare(b.name, 'en', { numeric: true });
  const oneGrid = arms.every((a) => a.index !== undefined && a.grid !== undefined && a.grid === arms[0]!.grid);
  return arms.sort((a, b) => (oneGrid ? a.index! - b.index! || byName(a, b) : byName(a, b)));
}
