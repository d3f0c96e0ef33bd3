/**
 * A run folder's guarantees (README "Runs on disk"):
 * - one writer: a `.lock` file (pid, host, command) makes a folder owned by one process at a time; a lock left by a
 *   process that is gone is reported and taken over, a live one (or one from another host) refuses the start;
 * - nothing is moved aside unless asked (`--fresh`), and then at most one previous copy is kept unless `--keep-old`;
 * - a resumed run's outputs (samples.jsonl, TensorBoard events) are cut back to its checkpoint's step first, so the
 *   finished folder equals an uninterrupted run's.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listEventFiles, parseRecords, decodeEvent, RECORD_OVERHEAD } from '../logging/tfevents.js';
import { isPlainObject, type Json } from '../config/merge.js';
import { latestCheckpoint } from './checkpoint.js';
import { asRecordedToday } from '../config/validate.js';
import type { PluginRegistry } from '../plugin/registry.js';

export const LOCK_FILE = '.lock';

/**
 * Settings that `--resume` may change (`--set`): how long and how the run goes on, not what it trains. `workers` and
 * `matmul` change the float path (see README *Speed*), so the rest of such a run is not bit-identical to an
 * uninterrupted one.
 */
export const RESUMABLE_SETTINGS = [
  'train.steps',
  'train.progress',
  'train.checkpointEvery',
  'train.keepCheckpoints',
  'reward.zeroVarianceSteps',
  'workers',
  'matmul',
] as const;

/**
 * Settings in which a re-run of an experiment may differ from the run in its folder and still be the same run (it goes
 * on from its checkpoint): the resumable settings that do not change what is computed. A different `workers` or
 * `matmul` is another run, continued only by an explicit `--resume`.
 */
const SAME_RUN_SETTINGS = [
  'train.steps',
  'train.progress',
  'train.checkpointEvery',
  'train.keepCheckpoints',
  'reward.zeroVarianceSteps',
] as const;

/** Who holds a run folder. */
interface LockOwner {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

/** A run folder cannot be taken (in use, or locked from another host): a usage problem, nothing was started. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;

function readLock(file: string): LockOwner | undefined {
  try {
    const body = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    return typeof body.pid === 'number' && typeof body.host === 'string'
      ? { pid: body.pid, host: body.host, command: String(body.command ?? ''), startedAt: String(body.startedAt ?? '') }
      : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of a run folder, if any: `stale` when its lock was left by a process of this host that is gone. */
export function lockState(runDir: string): { owner: LockOwner; stale: boolean } | undefined {
  const owner = readLock(path.join(runDir, LOCK_FILE));
  if (!owner) return undefined;
  const stale = owner.host === os.hostname() && owner.pid !== process.pid && !alive(owner.pid);
  return { owner, stale };
}

function describeOwner(o: LockOwner): string {
  return `pid ${o.pid} on ${o.host}${o.startedAt ? ` since ${o.startedAt}` : ''}${o.command ? ` (${o.command})` : ''}`;
}

/** Throws {@link RunFolderError} when a live process (or one this host cannot check) owns the folder. */
export function assertNotInUse(runDir: string): void {
  const s = lockState(runDir);
  if (!s || s.stale || (s.owner.pid === process.pid && s.owner.host === os.hostname())) return;
  if (s.owner.host !== os.hostname()) {
    throw new RunFolderError(
      `${rel(runDir)} is locked by ${describeOwner(s.owner)}, which this machine cannot check; ` +
        `if that process is gone, delete ${rel(path.join(runDir, LOCK_FILE))}`,
    );
  }
  throw new RunFolderError(`${rel(runDir)} is in use by ${describeOwner(s.owner)}; wait for it to finish or stop it (Ctrl-C saves)`);
}

/** An owned run folder; `release()` removes the lock if it is still ours (also called on process exit). */
export interface RunLock {
  readonly runDir: string;
  release(): void;
}

/**
 * Takes the run folder (creating it): writes `.lock` exclusively. A stale lock (its process is gone) is reported
 * through `log` and replaced; a live one throws {@link RunFolderError}.
 */
export function acquireRunLock(runDir: string, log: (m: string) => void = () => {}): RunLock {
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, LOCK_FILE);
  const me: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    command: process.argv.slice(2).join(' '),
    startedAt: new Date().toISOString(),
  };
  const body = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, body, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new RunFolderError(`${rel(runDir)} was taken by another process just now (${rel(file)})`);
        throw err;
      }
      assertNotInUse(runDir);
      const previous = readLock(file);
      log(
        previous
          ? `taking over the lock of ${rel(runDir)} left by ${describeOwner(previous)}, which is no longer running`
          : `replacing the unreadable lock file ${rel(file)}`,
      );
      fs.rmSync(file, { force: true });
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    const owner = readLock(file);
    if (owner?.pid === me.pid && owner.host === me.host) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { runDir, release };
}

/**
 * Whether a run folder holds results of an earlier run: a summary, a checkpoint or a logged step. (A run that failed
 * before its first step leaves none, and simply starts again in place.)
 */
export function folderUsed(dir: string): boolean {
  if (fs.existsSync(path.join(dir, 'summary.json'))) return true;
  const ckpts = path.join(dir, 'checkpoints');
  if (fs.existsSync(ckpts) && fs.readdirSync(ckpts).some((d) => !d.startsWith('.'))) return true;
  const samples = path.join(dir, 'samples.jsonl');
  return fs.existsSync(samples) && fs.statSync(samples).size > 0;
}

/** Leaf paths where two JSON values differ (at most `limit`), skipping `ignore`d paths. */
export function diffPaths(a: unknown, b: unknown, at = '', limit = 3, out: string[] = [], ignore: readonly string[] = []): string[] {
  if (out.length >= limit || ignore.includes(at)) return out;
  if (isPlainObject(a as Json) && isPlainObject(b as Json)) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])])
      diffPaths(ao[k], bo[k], at ? `${at}.${k}` : k, limit, out, ignore);
  } else if (JSON.stringify(a) !== JSON.stringify(b)) {
    out.push(`${at || '(root)'}: ${JSON.stringify(a) ?? 'nothing'} → ${JSON.stringify(b) ?? 'nothing'}`);
  }
  return out;
}

/** The config recorded in a run folder's resolved-config.json, without where it came from. */
function recordedConfig(dir: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(path.join(dir, 'resolved-config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(body as Json)) return undefined;
  const { $source: _s, ...config } = body as Record<string, unknown>;
  return config;
}

/** What starting an experiment does with its run folder. */
export type FolderDecision =
  { action: 'start'; moveAside?: string } | { action: 'resume'; step: number } | { action: 'skip' } | { action: 'refuse'; reason: string };

/**
 * Decides, without touching anything, what (re-)starting an experiment does with its folder: an unused folder starts;
 * `--fresh` starts again with the old folder moved aside; a used folder whose recorded config differs beyond
 * {@link SAME_RUN_SETTINGS} is refused (it is never moved aside unasked); a finished run is skipped unless one of those
 * changed (`train.steps` raised: it goes on from its last checkpoint); a stopped one resumes from its newest
 * complete checkpoint, or starts again in place when it has none. The recorded config is read with today's schema
 * ({@link asRecordedToday}: `registry` is the one the new config was validated with), so a folder written before a
 * defaulted field existed is still the same run.
 */
export function decideFolder(runDir: string, config: unknown, fresh: boolean, registry: PluginRegistry): FolderDecision {
  if (!folderUsed(runDir)) return { action: 'start' };
  if (fresh) return { action: 'start', moveAside: '--fresh' };
  const written = recordedConfig(runDir);
  if (written === undefined) {
    return {
      action: 'refuse',
      reason: `${rel(runDir)} holds results but no readable resolved-config.json; --fresh starts over (the folder is moved aside)`,
    };
  }
  const recorded = asRecordedToday(written, registry);
  const now = JSON.parse(JSON.stringify(config)) as unknown;
  const changed = diffPaths(recorded, now, '', 3, [], SAME_RUN_SETTINGS);
  if (changed.length) {
    return {
      action: 'refuse',
      reason:
        `${rel(runDir)} holds a run with another config (${changed.join('; ')}); ` +
        '--fresh starts over (the old run is moved aside), --set experiment=<name> runs it in its own folder' +
        (changed.every((c) => /^(workers|matmul):/.test(c)) ? `, or --resume ${rel(runDir)} continues it with these settings` : ''),
    };
  }
  const summary = readJson(path.join(runDir, 'summary.json')) as { status?: string } | undefined;
  const steps = (c: unknown) => Number((c as { train?: { steps?: unknown } }).train?.steps);
  if (summary?.status === 'done' && !(steps(now) > steps(recorded))) return { action: 'skip' };
  const ckpt = latestCheckpoint(runDir);
  return ckpt ? { action: 'resume', step: Number(/step-(\d+)$/.exec(ckpt)?.[1] ?? 0) } : { action: 'start' };
}

/** A JSON file's content, or undefined when it is missing or unreadable. */
export function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Earlier copies of a run folder (`<dir>.old-<time>`), oldest first. */
function previousCopies(dir: string): string[] {
  const parent = path.dirname(dir);
  if (!fs.existsSync(parent)) return [];
  const prefix = `${path.basename(dir)}.old-`;
  return fs
    .readdirSync(parent)
    .filter((d) => d.startsWith(prefix))
    .sort()
    .map((d) => path.join(parent, d));
}

/**
 * Checks that `--fresh` may move `dir` aside: at most one previous copy is kept, so an existing `<dir>.old-*` must be
 * removed first, or `--keep-old` given. Returns the refusal, or undefined.
 */
export function moveAsideRefusal(dir: string, keepOld: boolean): string | undefined {
  const copies = previousCopies(dir);
  if (keepOld || copies.length === 0) return undefined;
  return (
    `--fresh would move ${rel(dir)} aside, but ${copies.map(rel).join(', ')} already holds a previous copy: ` +
    'delete it, or add --keep-old to keep both'
  );
}

/** Moves a used run folder aside (`<dir>.old-<time>`, without its lock) and returns the new path. */
export function moveAside(dir: string): string {
  const aside = `${dir}.old-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  fs.renameSync(dir, aside);
  fs.rmSync(path.join(aside, LOCK_FILE), { force: true });
  return aside;
}

/**
 * Cuts a run folder's step outputs back to `step` (a resume from that step's checkpoint, or 0 for a start in place):
 * `samples.jsonl` keeps the lines of steps ≤ step; each TensorBoard event file keeps its events of steps ≤ step
 * (evaluation before training is logged at step 0 and survives a resume; a start in place, step 0, keeps nothing). Files are rewritten whole
 * and renamed into place. `summary.json` of the stopped run is removed (it is written again at the end).
 */
export function truncateRunOutputs(runDir: string, step: number): { samples: number; events: number } {
  const keep = (s: number) => step > 0 && s <= step;
  let droppedSamples = 0;
  const samplesFile = path.join(runDir, 'samples.jsonl');
  if (fs.existsSync(samplesFile)) {
    const kept: string[] = [];
    for (const line of fs.readFileSync(samplesFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let s: number | undefined;
      try {
        s = (JSON.parse(line) as { step?: number }).step;
      } catch {
        s = undefined; // a line cut by a crash
      }
      if (typeof s === 'number' && keep(s)) kept.push(line);
      else droppedSamples++;
    }
    replaceFile(samplesFile, kept.length ? `${kept.join('\n')}\n` : '');
  }
  let droppedEvents = 0;
  if (fs.existsSync(runDir)) {
    for (const file of listEventFiles(runDir)) {
      const buf = fs.readFileSync(file);
      const records = parseRecords(buf, file, { allowTruncatedTail: true });
      const parts: Uint8Array[] = [];
      let summaries = 0;
      let end = 0;
      for (const r of records) {
        end = r.offset + RECORD_OVERHEAD + r.data.length;
        const ev = decodeEvent(r.data);
        if (ev.summary && !keep(ev.step)) {
          droppedEvents++;
          continue;
        }
        parts.push(buf.subarray(r.offset, end));
        if (ev.summary) summaries++;
      }
      if (end < buf.length) droppedEvents++; // a record cut by a crash
      if (summaries === 0) fs.rmSync(file);
      else if (parts.reduce((n, p) => n + p.length, 0) !== buf.length) replaceFile(file, Buffer.concat(parts));
    }
  }
  fs.rmSync(path.join(runDir, 'summary.json'), { force: true });
  return { samples: droppedSamples, events: droppedEvents };
}

function replaceFile(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
