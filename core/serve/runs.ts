/**
 * The run browser's data: experiments and arms under a runs folder, each experiment's comparison (the `compare`
 * table and every arm's curves, evaluation points included) and an arm's samples.jsonl, filtered and paged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareExperiment } from '../compare/compare.js';
import { formatCell } from '../compare/format.js';
import { CURVES, METRICS } from '../compare/metrics.js';
import { isArmFolder } from '../compare/read-arms.js';
import { RequestError, type SamplesQuery } from './requests.js';

/** One experiment folder and its arms. */
interface ExperimentListing {
  experiment: string;
  arms: string[];
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const subdirs = (dir: string) =>
  (fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [])
    .filter((e) => e.isDirectory() && !e.name.includes('.old-'))
    .map((e) => e.name)
    .sort(byName);

/** Experiments of `root` (folders holding arm folders; an arm folder directly in root is its own experiment). */
export function listExperiments(root: string): ExperimentListing[] {
  return subdirs(root).flatMap((name) => {
    const dir = path.join(root, name);
    if (isArmFolder(dir)) return [{ experiment: name, arms: [name] }];
    const arms = subdirs(dir).filter((a) => isArmFolder(path.join(dir, a)));
    return arms.length ? [{ experiment: name, arms }] : [];
  });
}

/** A child folder of `parent` named by a client: a plain name (no separators, not "." or ".."), that exists. */
function childDir(parent: string, name: string, what: string): string {
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new RequestError(`${what}: got ${JSON.stringify(name)}; expected a folder name (no "/", "\\", "." or "..")`);
  }
  const dir = path.join(parent, name);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new RequestError(`${what}: no folder ${JSON.stringify(name)} in ${parent}`, 404);
  return dir;
}

/** Tags drawn in the run browser: the compare plot's training curves, then every evaluation series. */
const EVAL_TAGS = ['eval/toxicity_mean', 'eval/distinct_2', 'eval/perplexity'];

/** The comparison of one experiment, as the page draws it. */
export function experimentView(root: string, experiment: string) {
  const dir = childDir(root, experiment, 'experiment');
  const r = compareExperiment(dir);
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  const shown = METRICS.filter((m) => m.title);
  return {
    experiment,
    grouped: r.grouped,
    lastK: r.lastK,
    columns: shown.map((m) => ({ key: m.key, title: m.title! })),
    rows: r.rows.map((row) => ({
      label: row.label,
      n: row.n,
      status: row.status,
      steps: row.steps,
      cells: Object.fromEntries(shown.map((m) => [m.key, { text: formatCell(row, m.key), value: finite(row.metrics[m.key]!.mean) }])),
    })),
    curves: [
      ...CURVES.map((c) => ({ tag: c.tag, title: c.title })),
      ...EVAL_TAGS.map((tag) => ({ tag, title: `${tag} (evaluation: before and after training)` })),
    ],
    arms: r.records.map((a) => ({
      name: a.name,
      status: r.arms.find((x) => x.name === a.name)!.status,
      series: Object.fromEntries(
        [...CURVES.map((c) => c.tag), ...EVAL_TAGS].map((tag) => [
          tag,
          (a.curves.get(tag) ?? []).map((p) => [p.step, finite(p.value)] as [number, number | null]),
        ]),
      ),
    })),
  };
}

/** One line of samples.jsonl (core/logging/run-hooks.ts SamplesHook). */
interface SampleRow {
  step: number;
  prompt: string;
  response: string;
  reward: number;
  score?: number;
  toxicity?: number;
}

/** An arm's samples, filtered by step, reward range and a contained word (case-insensitive), then paged. */
export function armSamples(root: string, experiment: string, arm: string, q: SamplesQuery) {
  const expDir = childDir(root, experiment, 'experiment');
  const dir = isArmFolder(expDir) && arm === experiment ? expDir : childDir(expDir, arm, 'arm');
  const file = path.join(dir, 'samples.jsonl');
  const all: SampleRow[] = [];
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        all.push(JSON.parse(line) as SampleRow);
      } catch {
        /* a line being appended by a running arm */
      }
    }
  }
  const steps = [...new Set(all.map((s) => s.step))].sort((a, b) => a - b);
  const word = q.contains?.trim().toLowerCase();
  const hit = all.filter(
    (s) =>
      (q.step === undefined || s.step === q.step) &&
      (q.minReward === undefined || s.reward >= q.minReward) &&
      (q.maxReward === undefined || s.reward <= q.maxReward) &&
      (!word || s.prompt.toLowerCase().includes(word) || s.response.toLowerCase().includes(word)),
  );
  return { experiment, arm, steps, total: hit.length, offset: q.offset, limit: q.limit, rows: hit.slice(q.offset, q.offset + q.limit) };
}
