/**
 * `detox-lab train-classifier`: labelled data (the shared Davidson + ToxiGen folder and/or CSV files) → de-duplicated,
 * split by text hash → a GPT2ForSequenceClassification initialised from a causal LM folder (new seeded score head) →
 * {@link trainClassifier} → a Hugging Face folder the `hf-classifier` reward model loads
 * (`{"type": "hf-classifier", "path": "<out>", "neutralLabel": "neutral"}`).
 */
import { promises as fsp } from 'node:fs';
import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getBackend } from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../model/wasm/backend.js';
import { loadCausalLM } from '../model/load.js';
import { CausalSequenceClassifier } from '../model/gpt2-classifier.js';
import { loadTokenizer } from '../model/io/tokenizer.js';
import { InputError } from '../errors.js';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_VALIDATION_BY_SOURCE,
  dedupeWithCounts,
  loadLabelledCsv,
  loadToxicityLabels,
  splitByHash,
  type LabelledText,
} from './data.js';
import { CLASSIFIER_DEFAULTS } from './defaults.js';
import { trainClassifier, validateClassifierHyperparameters, type ClassifierHyperparameters, type TrainClassifierResult } from './train.js';

/** Labels of every classifier train-classifier makes, in logit order. */
const CLASSIFIER_LABELS = ['neutral', 'toxic'] as const;

/** A user CSV file and its columns. */
interface CsvSource {
  file: string;
  textColumn: string;
  labelColumn: string;
}

/** Settings of the command (all but `outDir` optional; defaults from {@link CLASSIFIER_DEFAULTS}). */
interface TrainClassifierCommandOptions extends Partial<ClassifierHyperparameters> {
  outDir: string;
  /** Causal LM folder the body is initialised from. */
  base?: string;
  /** The shared labelled-data folder (Davidson + ToxiGen), or null to train on `data` / `items` only. */
  labels?: string | null;
  /** Extra labelled CSV files. */
  data?: CsvSource[];
  /** Labelled texts given directly (tests). */
  items?: LabelledText[];
  /** Share of the texts (by hash) held out for validation. */
  validation?: number;
  /** Run folder (TensorBoard, checkpoints/); default `runs/train-classifier/<basename of outDir>`. */
  runDir?: string | null;
  /** Replace an existing output folder. */
  force?: boolean;
  /** Backend ('wasm' by default); null keeps the current one. */
  backend?: BackendName | null;
  signal?: AbortSignal;
  log?: (message: string) => void;
  progress?: boolean;
  /** Recorded in train.json (how the command was called). */
  command?: string;
}

/** The project's root folder (where package.json is): defaults like models/tiny-gpt2 are resolved from it. */
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A default path of {@link CLASSIFIER_DEFAULTS} (relative to the project root) as an absolute path. */
export function defaultPath(relative: string): string {
  return path.resolve(PROJECT_ROOT, relative);
}

/** Refuses an existing output folder unless `force`; the message names the flag. */
export function checkOutDir(outDir: string, force: boolean): void {
  if (!force && fs.existsSync(outDir)) {
    throw new InputError(
      `--out ${outDir}: the folder exists; train-classifier does not overwrite a model (choose another --out, delete it, or add --force to replace it)`,
    );
  }
}

/** Runs the whole recipe; see the module documentation. */
export async function trainClassifierCommand(args: TrainClassifierCommandOptions): Promise<TrainClassifierResult> {
  const log = args.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const o = { ...CLASSIFIER_DEFAULTS, ...definedOnly(args) };
  const outDir = path.resolve(args.outDir);
  checkOutDir(outDir, args.force ?? false);
  validateClassifierHyperparameters(o);
  if (!(o.validation > 0 && o.validation < 1)) throw new InputError(`--validation: expected a fraction in (0, 1), got ${o.validation}`);

  // Data: everything de-duplicated together (a text in two files is one text), then split by hash.
  const items: LabelledText[] = [];
  if (args.labels !== null) {
    const dir = args.labels === undefined ? defaultPath(CLASSIFIER_DEFAULTS.labels) : path.resolve(args.labels);
    if (!fs.existsSync(dir))
      throw new InputError(`--labels ${dir}: no such folder (expected davidson-labeled_data.csv and toxigen-prompts/ inside)`);
    items.push(...wrap('--labels', dir, () => loadToxicityLabels(dir)));
  }
  for (const d of args.data ?? []) {
    if (!fs.existsSync(d.file)) throw new InputError(`--data ${d.file}: no such file`);
    items.push(...wrap('--data', d.file, () => loadLabelledCsv(d.file, { textColumn: d.textColumn, labelColumn: d.labelColumn })));
  }
  items.push(...(args.items ?? []));
  const { items: all, duplicates, conflicts } = dedupeWithCounts(items);
  if (all.length === 0) throw new InputError('train-classifier: no labelled texts (give --labels <dir> and/or --data <file.csv>)');
  const split = splitByHash(all, o.validation);
  if (split.validation.length === 0)
    throw new InputError(`--validation ${o.validation}: no text fell into the validation split (${all.length} texts); raise it`);
  log(
    `train-classifier: ${all.length} distinct labelled texts (${duplicates} duplicates, ${conflicts} with conflicting labels removed): ` +
      `${split.train.length} training, ${split.validation.length} validation (${o.validation} of each source by text hash; ` +
      `${Object.entries(DEFAULT_VALIDATION_BY_SOURCE)
        .map(([s, f]) => `${s} ${f}`)
        .join(', ')})`,
  );

  if (args.backend !== null) {
    const info = await initBackend(args.backend ?? 'wasm');
    log(`train-classifier: backend ${info.tfBackend}${info.simd !== undefined ? ` (simd ${info.simd})` : ''}`);
  }
  const baseDir = args.base === undefined ? defaultPath(CLASSIFIER_DEFAULTS.base) : path.resolve(args.base);
  if (!fs.existsSync(path.join(baseDir, 'config.json'))) throw new InputError(`--base ${baseDir}: not a model folder (no config.json)`);
  const tokenizer = await wrapAsync('--base', baseDir, () => loadTokenizer(baseDir));
  const body = await wrapAsync('--base', baseDir, () => loadCausalLM(baseDir));
  const classifier = CausalSequenceClassifier.fromCausalLM(body, {
    labels: CLASSIFIER_LABELS,
    padTokenId: tokenizer.padTokenId,
    seed: o.seed,
    tokenizer,
  });
  try {
    validateClassifierHyperparameters(o, classifier.config.maxPositionEmbeddings);
    const runDir =
      args.runDir === null ? undefined : path.resolve(args.runDir ?? path.join('runs', 'train-classifier', path.basename(outDir)));
    if (runDir) {
      await fsp.rm(runDir, { recursive: true, force: true }); // the run folder belongs to the output being made
      await fsp.mkdir(runDir, { recursive: true });
    }
    const tokenizerConfig = await readTokenizerConfig(baseDir, tokenizer.padToken, o.maxLength);
    const params = classifier.trainableVariables().reduce((n, v) => n + v.size, 0);
    log(
      `train-classifier: ${classifier.config.architecture} on ${baseDir} (${params} parameters), labels ${CLASSIFIER_LABELS.join(', ')}, ` +
        `pad token ${tokenizer.padTokenId}${runDir ? `; TensorBoard and checkpoints in ${runDir}` : ''}`,
    );
    return await trainClassifier({
      ...o,
      classifier,
      tokenizer,
      train: split.train,
      validation: split.validation,
      outDir,
      runDir,
      extraFiles: {
        'tokenizer.json': JSON.stringify(tokenizer.toJSON()),
        'tokenizer_config.json': JSON.stringify(tokenizerConfig, null, 2) + '\n',
      },
      info: {
        base: path.relative(PROJECT_ROOT, baseDir).startsWith('..') ? baseDir : path.relative(PROJECT_ROOT, baseDir),
        parameters: params,
        labels: [...CLASSIFIER_LABELS],
        dataSources: {
          labels: args.labels === null ? null : args.labels === undefined ? CLASSIFIER_DEFAULTS.labels : args.labels,
          csv: (args.data ?? []).map((d) => ({ ...d, file: path.relative(process.cwd(), d.file) || d.file })),
          items: args.items?.length ?? 0,
        },
        split: {
          method: 'text hash (core/classifier/data.ts splitByHash)',
          validation: o.validation,
          validationBySource: DEFAULT_VALIDATION_BY_SOURCE,
          distinctTexts: all.length,
          duplicatesRemoved: duplicates,
          conflictingLabelsRemoved: conflicts,
        },
        backend: getBackend(),
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.cpus().length,
        ...(args.command ? { command: args.command } : {}),
      },
      signal: args.signal,
      log,
      progress: args.progress ?? true,
    });
  } finally {
    classifier.dispose();
  }
}

/** The base's tokenizer_config.json (or a GPT-2 one), with the pad token and the training length as model_max_length. */
async function readTokenizerConfig(baseDir: string, padToken: string, maxLength: number): Promise<Record<string, unknown>> {
  let cfg: Record<string, unknown> = {};
  try {
    cfg = JSON.parse(await fsp.readFile(path.join(baseDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    cfg = { tokenizer_class: 'GPT2TokenizerFast' };
  }
  // model_max_length = the training length: hf-classifier then truncates texts as training and validation did.
  return { ...cfg, pad_token: cfg.pad_token ?? padToken, padding_side: 'right', model_max_length: maxLength };
}

function wrap<T>(flag: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${flag} ${what}: ${(err as Error).message}`);
  }
}

async function wrapAsync<T>(flag: string, what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${flag} ${what}: ${(err as Error).message}`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
