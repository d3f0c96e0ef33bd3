/**
 * `detox-lab pretrain`: the whole recipe behind the embedded tiny policy in one call — read the corpus files, split
 * them (seeded), train a byte-level BPE tokenizer on the training lines (or load a given one), pretrain a GPT-2 on
 * the chosen backend and save it as a Hugging Face folder. The CLI parses options into {@link PretrainCommandOptions}
 * and calls {@link pretrainCommand}; every option it leaves out takes its value from {@link PRETRAIN_DEFAULTS}.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { getBackend } from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../model/wasm/backend.js';
import { loadTokenizer, tokenizerFromJson, type Tokenizer, type TokenizerJson } from '../model/io/tokenizer.js';
import { trainBpe, countPieces } from './bpe.js';
import { readCorpusFiles, splitCorpus } from './corpus.js';
import { PRETRAIN_DEFAULTS } from './defaults.js';
import {
  pretrain,
  validatePretrainOptions,
  type PretrainHyperparameters,
  type PretrainModelShape,
  type PretrainResult,
} from './pretrain.js';
import { InputError } from '../errors.js';

/** Settings of the command (all but `corpus`/`lines` and `outDir` optional). */
interface PretrainCommandOptions extends Partial<PretrainHyperparameters>, Partial<PretrainModelShape> {
  /** Corpus files: UTF-8 text (`.gz` allowed), one sentence / utterance per line. */
  corpus?: string[];
  /** Corpus lines given directly (instead of, or in addition to, files). */
  lines?: string[];
  /** Output Hugging Face folder. */
  outDir: string;
  /** An existing tokenizer (tokenizer.json or a folder holding one) instead of training a new one. */
  tokenizer?: string;
  /** Vocabulary size of the trained tokenizer (256 bytes + merges + `<|endoftext|>`). */
  vocabSize?: number;
  /** Pairs seen fewer times are not merged. */
  minFrequency?: number;
  /** Share of the (shuffled) lines held out for evaluation. */
  evalFraction?: number;
  /** Cap on held-out lines. */
  maxEvalLines?: number;
  /** TensorBoard folder; null for none; default `<outDir>-tensorboard`. */
  logDir?: string | null;
  /** Backend to initialise ('wasm' by default); null leaves the current backend as it is. */
  backend?: BackendName | null;
  signal?: AbortSignal;
  /** Status lines (default: written to stderr). */
  log?: (message: string) => void;
  /** Console progress line (default true). */
  progress?: boolean;
}

export { PRETRAIN_DEFAULTS } from './defaults.js';

/** Result of {@link pretrainCommand}: the training result plus how the tokenizer was made. */
interface PretrainCommandResult extends PretrainResult {
  tokenizer: { source: string; vocabSize: number; merges: number; seconds: number };
}

/** Runs the pretraining recipe; see the module documentation. */
export async function pretrainCommand(args: PretrainCommandOptions): Promise<PretrainCommandResult> {
  const log = args.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const o = { ...PRETRAIN_DEFAULTS, ...definedOnly(args) };
  if (typeof o.outDir !== 'string' || o.outDir === '') throw new Error('pretrain: outDir must name the output folder');
  const model = { nLayers: o.nLayers, dModel: o.dModel, nHeads: o.nHeads, context: o.context };
  validatePretrainOptions({ ...o, model });
  if (args.backend !== null) {
    const info = await initBackend(args.backend ?? 'wasm');
    log(`pretrain: backend ${info.tfBackend}${info.simd !== undefined ? ` (simd ${info.simd})` : ''}`);
  }
  const lines = [...(args.corpus?.length ? await readCorpusFiles(args.corpus) : []), ...(args.lines ?? [])];
  if (lines.length < 2)
    throw new InputError(`pretrain: the corpus has ${lines.length} non-blank line(s); give corpus files (or lines) with at least 2`);
  const split = splitCorpus(lines, { seed: o.seed, evalFraction: o.evalFraction, maxEvalLines: o.maxEvalLines });
  log(`pretrain: ${lines.length} lines (${split.train.length} training, ${split.heldOut.length} held out)`);

  const tt = performance.now();
  let tokenizer: Tokenizer;
  let tokInfo: PretrainCommandResult['tokenizer'];
  if (args.tokenizer) {
    try {
      tokenizer = await loadTokenizer(args.tokenizer);
    } catch (err) {
      throw new InputError(`--tokenizer ${args.tokenizer}: ${(err as Error).message}`);
    }
    const merges = ((tokenizer.toJSON().model as { merges?: unknown[] }).merges ?? []).length;
    tokInfo = { source: args.tokenizer, vocabSize: tokenizer.vocabSize, merges, seconds: (performance.now() - tt) / 1000 };
  } else {
    const bpe = trainBpe(countPieces(split.train), { vocabSize: o.vocabSize, minFrequency: o.minFrequency });
    tokenizer = tokenizerFromJson(bpe.tokenizerJson as unknown as TokenizerJson, {}, {}, 'trained BPE');
    tokInfo = { source: 'trained', vocabSize: tokenizer.vocabSize, merges: bpe.merges.length, seconds: (performance.now() - tt) / 1000 };
    if (tokenizer.vocabSize < o.vocabSize) {
      log(`pretrain: the corpus supports only ${tokenizer.vocabSize} tokens at minFrequency ${o.minFrequency} (asked for ${o.vocabSize})`);
    }
  }
  log(
    `pretrain: tokenizer (${tokInfo.source}) with ${tokInfo.vocabSize} tokens, ${tokInfo.merges} merges in ${tokInfo.seconds.toFixed(1)} s`,
  );

  const logDir = args.logDir === null ? undefined : (args.logDir ?? `${o.outDir.replace(/[\\/]+$/, '')}-tensorboard`);
  if (logDir) await fsp.mkdir(logDir, { recursive: true });
  const result = await pretrain({
    ...o,
    corpus: split,
    tokenizer,
    outDir: o.outDir,
    logDir,
    signal: args.signal,
    log,
    progress: args.progress ?? true,
    model,
    info: {
      tokenizer: { ...tokInfo, vocabSizeAsked: args.tokenizer ? undefined : o.vocabSize, minFrequency: o.minFrequency },
      backend: getBackend(),
      corpusSource: { files: args.corpus ?? [], directLines: args.lines?.length ?? 0, lines: lines.length, sha256: corpusHash(lines) },
      split: { seed: o.seed, evalFraction: o.evalFraction, maxEvalLines: o.maxEvalLines },
    },
  });
  return { ...result, tokenizer: tokInfo };
}

/** sha256 of the corpus lines joined by newlines (identifies the exact text a model was trained on). */
function corpusHash(lines: readonly string[]): string {
  const h = createHash('sha256');
  for (const line of lines) h.update(line).update('\n');
  return h.digest('hex');
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
