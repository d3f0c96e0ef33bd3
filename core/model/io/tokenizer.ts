/**
 * Hugging Face tokenizers (tokenizer.json) on the host.
 *
 * Encoding and decoding are delegated to `@huggingface/tokenizers` (the pure-JS port of the Rust `tokenizers` crate),
 * which reproduces GPT-2's byte-level BPE token for token. This module adds what the training loop needs on top:
 * special-token resolution (bos / eos / pad), batch encoding with left or right padding and truncation, id validation,
 * and writing the tokenizer back to disk.
 *
 * Special tokens are resolved in this order: explicit {@link TokenizerOptions}, then `special_tokens_map.json` /
 * `tokenizer_config.json` next to the tokenizer.json, then the tokenizer.json itself (the `cls`/`sep` tokens of a
 * RoBERTa/BERT post-processor, or well-known names such as `<|endoftext|>`, `<s>`, `</s>`, `<pad>` among its added
 * tokens). When no bos token is found it is the eos token (GPT-2: both are `<|endoftext|>`). When no pad token is
 * found it is the eos token — the TRL / Hugging Face convention `tokenizer.pad_token = tokenizer.eos_token`.
 *
 * Decoding does not apply Hugging Face's legacy `clean_up_tokenization_spaces` (which rewrites `" ,"` to `","` etc.)
 * unless the tokenizer_config.json or {@link TokenizerOptions} ask for it, so `decode(encode(text)) === text` holds
 * for byte-level tokenizers.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer as TokenizerContract } from '../../interfaces/tokenizer.js';
import { buildGpt2TokenizerJson, buildRobertaTokenizerJson } from './gpt2-tokenizer-files.js';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Add the post-processor's special tokens (RoBERTa: `<s> … </s>`; GPT-2: none). Default true, as in HF. */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens (e.g. `<|endoftext|>`, `<pad>`) from the output. Default false. */
  skipSpecialTokens?: boolean;
  /** Apply HF's legacy punctuation-space clean-up. Default: the tokenizer's setting (see module docs). */
  cleanUpTokenizationSpaces?: boolean;
}

/** Options of {@link Tokenizer.encodeBatch}. */
export interface EncodeBatchOptions {
  /** Side on which pad tokens are added: 'left' for generation prompts (TRL), 'right' for classifiers. */
  padding: 'left' | 'right';
  /** Length limit used by `truncation` and `padToMaxLength`. */
  maxLength?: number;
  /**
   * Cut sequences longer than `maxLength` (requires `maxLength`). Content tokens are dropped from the right and the
   * special tokens are kept, like HF `truncation=True`. Without truncation, longer sequences are left whole.
   */
  truncation?: boolean;
  /** Pad every row to `maxLength` (or to the longest row if that is longer) instead of to the longest row. */
  padToMaxLength?: boolean;
  /** See {@link EncodeOptions.addSpecialTokens}. Default true. */
  addSpecialTokens?: boolean;
}

/** Result of {@link Tokenizer.encodeBatch}: rectangular `[B][T]` arrays. */
export interface BatchEncoding {
  /** Token ids, pad id in padded positions. */
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
}

/** A loaded tokenizer. Satisfies the project-wide `Tokenizer` contract of core/interfaces/tokenizer.ts. */
export interface Tokenizer extends TokenizerContract {
  /** Number of ids: 1 + the largest id of the vocabulary and added tokens (GPT-2: 50257). */
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  /** The tokenizer's own pad token, else the eos token (TRL / HF convention `pad = eos`). */
  readonly padTokenId: number;
  readonly bosToken: string;
  readonly eosToken: string;
  readonly padToken: string;
  /** True when the pad token was not declared and falls back to the eos token. */
  readonly padIsEos: boolean;
  /** `model_max_length` from tokenizer_config.json, if it declares a real one. */
  readonly modelMaxLength: number | undefined;
  /** Text → ids; adds the post-processor's special tokens unless `addSpecialTokens: false`. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** Ids → text. Ids must be integers in `[0, vocabSize)`. */
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  /** Texts → padded `[B][T]` ids and attention mask. */
  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions): BatchEncoding;
  /** Id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined;
  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined;
  /** The tokenizer.json document (a copy); `JSON.stringify(tokenizer)` therefore writes a tokenizer.json. */
  toJSON(): TokenizerJson;
  /** Write `tokenizer.json` and `tokenizer_config.json` (with the resolved special tokens) into `dir`. */
  save(dir: string): Promise<void>;
}

/** A tokenizer.json document (only the fields this module reads are typed). */
export interface TokenizerJson {
  model: { type?: string; vocab: Record<string, number> | unknown; [key: string]: unknown };
  added_tokens?: Array<{ id: number; content: string; special?: boolean; [key: string]: unknown }>;
  post_processor?: { type: string; cls?: [string, number]; sep?: [string, number]; [key: string]: unknown } | null;
  [key: string]: unknown;
}

/** A special token in tokenizer_config.json / special_tokens_map.json: a string or an AddedToken object. */
type SpecialTokenValue = string | { content: string; [key: string]: unknown } | null | undefined;

/** Fields of tokenizer_config.json (merged with special_tokens_map.json) that this module reads. */
interface TokenizerConfigJson {
  tokenizer_class?: string;
  bos_token?: SpecialTokenValue;
  eos_token?: SpecialTokenValue;
  pad_token?: SpecialTokenValue;
  unk_token?: SpecialTokenValue;
  clean_up_tokenization_spaces?: boolean;
  model_max_length?: number;
  [key: string]: unknown;
}

/** Overrides for {@link loadTokenizer} / {@link tokenizerFromJson}. */
interface TokenizerOptions {
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  /** Default: tokenizer_config.json's `clean_up_tokenization_spaces`, else false. */
  cleanUpTokenizationSpaces?: boolean;
}

const BOS_NAMES = ['<|endoftext|>', '<s>', '<|begin_of_text|>', '<bos>', '[CLS]'];
const EOS_NAMES = ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>', '[SEP]'];
const PAD_NAMES = ['<pad>', '[PAD]', '<|pad|>', '<|padding|>'];
/** HF writes `VERY_LARGE_INTEGER` (1e30) as model_max_length when it is unknown. */
const MAX_REAL_MODEL_LENGTH = 1e9;

function specialContent(v: SpecialTokenValue): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof v.content === 'string') return v.content;
  return undefined;
}

class HfBackedTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosToken: string;
  readonly eosToken: string;
  readonly padToken: string;
  readonly padIsEos: boolean;
  readonly modelMaxLength: number | undefined;
  private readonly hf: HfTokenizer;
  private readonly cleanUp: boolean;
  /** Number of special tokens the post-processor adds around one sequence. */
  private readonly numSpecialTokens: number;

  constructor(
    private readonly json: TokenizerJson,
    private readonly config: TokenizerConfigJson,
    opts: TokenizerOptions,
    private readonly source: string,
  ) {
    if (!json || typeof json !== 'object' || !json.model || typeof json.model !== 'object') {
      throw new Error(`tokenizer ${source}: not a tokenizer.json document (no "model" object)`);
    }
    this.cleanUp = opts.cleanUpTokenizationSpaces ?? config.clean_up_tokenization_spaces ?? false;
    const hfJson = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...json,
    };
    try {
      this.hf = new HfTokenizer(hfJson, { ...config, clean_up_tokenization_spaces: this.cleanUp });
    } catch (err) {
      throw new Error(`tokenizer ${source}: unsupported tokenizer.json: ${(err as Error).message}`);
    }
    let maxId = -1;
    for (const id of this.hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    for (const t of json.added_tokens ?? []) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;

    const idOf = (token: string, field: string): number => {
      const id = this.hf.token_to_id(token);
      if (id === undefined) throw new Error(`tokenizer ${source}: ${field} ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    const special = new Set((json.added_tokens ?? []).filter((t) => t.special).map((t) => t.content));
    const firstKnown = (names: string[]): string | undefined => names.find((n) => special.has(n));
    const pp = json.post_processor;
    const ppCls = pp && (pp.type === 'RobertaProcessing' || pp.type === 'BertProcessing') ? pp.cls?.[0] : undefined;
    const ppSep = pp && (pp.type === 'RobertaProcessing' || pp.type === 'BertProcessing') ? pp.sep?.[0] : undefined;

    const eos = opts.eosToken ?? specialContent(config.eos_token) ?? ppSep ?? firstKnown(EOS_NAMES);
    if (eos === undefined) {
      throw new Error(
        `tokenizer ${source}: cannot determine the eos token (no eos_token in tokenizer_config.json, no known ` +
          `end-of-sequence name among the added tokens [${[...special].join(', ')}]); pass the eosToken option`,
      );
    }
    const bos = opts.bosToken ?? specialContent(config.bos_token) ?? ppCls ?? firstKnown(BOS_NAMES) ?? eos;
    const declaredPad = opts.padToken ?? specialContent(config.pad_token) ?? firstKnown(PAD_NAMES);
    this.eosToken = eos;
    this.bosToken = bos;
    this.padToken = declaredPad ?? eos;
    this.padIsEos = declaredPad === undefined;
    this.eosTokenId = idOf(eos, 'eos token');
    this.bosTokenId = idOf(bos, 'bos token');
    this.padTokenId = idOf(this.padToken, 'pad token');
    const mml = config.model_max_length;
    this.modelMaxLength = typeof mml === 'number' && mml > 0 && mml < MAX_REAL_MODEL_LENGTH ? mml : undefined;
    this.numSpecialTokens = this.hf.post_processor ? this.hf.post_processor.post_process([], null, true).tokens.length : 0;
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new Error(`encode: text must be a string, got ${typeof text}`);
    const ids = this.hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    this.checkEncoded(ids, text);
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const list = Array.from(ids, Number);
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.hf.id_to_token(id) === undefined) {
        throw new Error(`decode: ids[${i}] = ${id} is not a token id (allowed: integers in [0, ${this.vocabSize}))`);
      }
    }
    if (list.length === 0) return '';
    return this.hf.decode(list, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: opts.cleanUpTokenizationSpaces ?? this.cleanUp,
    });
  }

  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions): BatchEncoding {
    const { padding, maxLength, truncation = false, padToMaxLength = false } = opts;
    const add = opts.addSpecialTokens ?? true;
    if (padding !== 'left' && padding !== 'right') {
      throw new Error(`encodeBatch: padding must be 'left' or 'right', got ${JSON.stringify(padding)}`);
    }
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
      throw new Error(`encodeBatch: maxLength must be a positive integer, got ${maxLength}`);
    }
    if ((truncation || padToMaxLength) && maxLength === undefined) {
      throw new Error(`encodeBatch: ${truncation ? 'truncation' : 'padToMaxLength'}=true requires maxLength`);
    }
    const nSpecial = add ? this.numSpecialTokens : 0;
    if (truncation && maxLength! <= nSpecial) {
      throw new Error(`encodeBatch: maxLength ${maxLength} leaves no room beside the ${nSpecial} special tokens`);
    }
    const seqs = texts.map((text) => {
      const ids = this.encode(text, { addSpecialTokens: add });
      return truncation && ids.length > maxLength! ? this.truncate(text, maxLength! - nSpecial, add) : ids;
    });
    let width = 0;
    for (const s of seqs) width = Math.max(width, s.length);
    if (padToMaxLength) width = Math.max(width, maxLength!);
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    for (const s of seqs) {
      const pad = new Array<number>(width - s.length).fill(this.padTokenId);
      const zeros = new Array<number>(width - s.length).fill(0);
      const ones = new Array<number>(s.length).fill(1);
      inputIds.push(padding === 'left' ? [...pad, ...s] : [...s, ...pad]);
      attentionMask.push(padding === 'left' ? [...zeros, ...ones] : [...ones, ...zeros]);
    }
    return { inputIds, attentionMask };
  }

  toJSON(): TokenizerJson {
    return structuredClone(this.json);
  }

  async save(dir: string): Promise<void> {
    await fsp.mkdir(dir, { recursive: true });
    const config: TokenizerConfigJson = {
      ...this.config,
      tokenizer_class: this.config.tokenizer_class ?? 'PreTrainedTokenizerFast',
      bos_token: this.bosToken,
      eos_token: this.eosToken,
      pad_token: this.padToken,
      clean_up_tokenization_spaces: this.cleanUp,
    };
    if (this.modelMaxLength !== undefined) config.model_max_length = this.modelMaxLength;
    await fsp.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(this.json));
    await fsp.writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  }

  /** Encode `text` keeping only the first `keep` content tokens, then add the special tokens. */
  private truncate(text: string, keep: number, add: boolean): number[] {
    const content = this.hf.tokenize(text, { add_special_tokens: false }).slice(0, keep);
    const tokens: string[] = add && this.hf.post_processor ? this.hf.post_processor.post_process(content, null, true).tokens : content;
    const ids = tokens.map((t: string) => this.hf.token_to_id(t) as number);
    this.checkEncoded(ids, text);
    return ids;
  }

  private checkEncoded(ids: ReadonlyArray<number | undefined>, text: string): void {
    for (const id of ids) {
      if (id === undefined) {
        throw new Error(`tokenizer ${this.source}: text ${JSON.stringify(text.slice(0, 50))} produced a token with no id`);
      }
    }
  }
}

/**
 * Build a tokenizer from a parsed tokenizer.json document and (optionally) a parsed tokenizer_config.json.
 * `source` names the origin in error messages.
 */
export function tokenizerFromJson(
  json: TokenizerJson,
  config: TokenizerConfigJson = {},
  opts: TokenizerOptions = {},
  source = '<json>',
): Tokenizer {
  return new HfBackedTokenizer(json, config, opts, source);
}

async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file}: invalid JSON: ${(err as Error).message}`);
  }
}

async function exists(file: string): Promise<boolean> {
  return fsp.stat(file).then(
    () => true,
    () => false,
  );
}

/** tokenizer_config.json merged with special_tokens_map.json (the latter wins, as in HF). */
async function readTokenizerConfig(dir: string): Promise<TokenizerConfigJson> {
  const config = (await readJsonIfExists<TokenizerConfigJson>(path.join(dir, 'tokenizer_config.json'))) ?? {};
  const map = (await readJsonIfExists<TokenizerConfigJson>(path.join(dir, 'special_tokens_map.json'))) ?? {};
  return { ...config, ...map };
}

/** Build a tokenizer.json from "slow" byte-level BPE files when a folder has no tokenizer.json. */
async function tokenizerJsonFromSlowFiles(dir: string, config: TokenizerConfigJson): Promise<TokenizerJson | undefined> {
  const vocabJson = path.join(dir, 'vocab.json');
  const mergesTxt = path.join(dir, 'merges.txt');
  if ((await exists(vocabJson)) && (await exists(mergesTxt))) {
    const modelType = (await readJsonIfExists<{ model_type?: string }>(path.join(dir, 'config.json')))?.model_type;
    const cls = config.tokenizer_class ?? '';
    const [vocab, merges] = await Promise.all([fsp.readFile(vocabJson, 'utf8'), fsp.readFile(mergesTxt, 'utf8')]);
    if (/^Roberta/.test(cls) || modelType === 'roberta') {
      const special = {
        bos: specialContent(config.bos_token),
        eos: specialContent(config.eos_token),
        unk: specialContent(config.unk_token),
        pad: specialContent(config.pad_token),
        mask: specialContent(config.mask_token as SpecialTokenValue),
      };
      for (const k of Object.keys(special) as Array<keyof typeof special>) if (special[k] === undefined) delete special[k];
      return buildRobertaTokenizerJson(vocab, merges, special) as unknown as TokenizerJson;
    }
    if (config.add_bos_token === true) {
      // OPT's slow files: transformers' fast conversion adds a post-processor that prepends the bos token.
      throw new Error(
        `tokenizer folder ${dir}: tokenizer_config.json sets "add_bos_token": true (OPT), which the vocab.json + merges.txt ` +
          "conversion does not reproduce; write tokenizer.json with transformers' AutoTokenizer.from_pretrained(<model>).save_pretrained(<folder>)",
      );
    }
    if (/^GPT2/.test(cls) || modelType === 'gpt2') return buildGpt2TokenizerJson(vocab, merges) as unknown as TokenizerJson;
    throw new Error(
      `tokenizer folder ${dir}: has vocab.json + merges.txt but neither tokenizer_config.json tokenizer_class ` +
        `(${JSON.stringify(cls)}) nor config.json model_type (${JSON.stringify(modelType)}) says GPT-2 or RoBERTa`,
    );
  }
  const encoderJson = path.join(dir, 'encoder.json');
  const vocabBpe = path.join(dir, 'vocab.bpe');
  if ((await exists(encoderJson)) && (await exists(vocabBpe))) {
    const [enc, bpe] = await Promise.all([fsp.readFile(encoderJson, 'utf8'), fsp.readFile(vocabBpe, 'utf8')]);
    return buildGpt2TokenizerJson(enc, bpe) as unknown as TokenizerJson;
  }
  return undefined;
}

/**
 * Load a tokenizer from a folder or from a tokenizer.json file.
 *
 * A folder must hold `tokenizer.json`, or else the byte-level BPE "slow" files `vocab.json` + `merges.txt`
 * (GPT-2 / RoBERTa, told apart by tokenizer_config.json `tokenizer_class` or config.json `model_type`) or OpenAI's
 * `encoder.json` + `vocab.bpe` (GPT-2). `tokenizer_config.json` and `special_tokens_map.json` are read from the folder
 * (or, for a file path, from its folder when the file is named tokenizer.json).
 */
export async function loadTokenizer(dirOrTokenizerJson: string, opts: TokenizerOptions = {}): Promise<Tokenizer> {
  let stats;
  try {
    stats = await fsp.stat(dirOrTokenizerJson);
  } catch {
    throw new Error(`loadTokenizer: ${dirOrTokenizerJson} does not exist (expected a folder or a tokenizer.json file)`);
  }
  if (stats.isDirectory()) {
    const dir = dirOrTokenizerJson;
    const config = await readTokenizerConfig(dir);
    const file = path.join(dir, 'tokenizer.json');
    const json = (await readJsonIfExists<TokenizerJson>(file)) ?? (await tokenizerJsonFromSlowFiles(dir, config));
    if (!json) {
      throw new Error(`tokenizer folder ${dir}: no tokenizer.json (nor vocab.json + merges.txt, nor encoder.json + vocab.bpe)`);
    }
    return tokenizerFromJson(json, config, opts, dir);
  }
  const file = dirOrTokenizerJson;
  const json = await readJsonIfExists<TokenizerJson>(file);
  const config = path.basename(file) === 'tokenizer.json' ? await readTokenizerConfig(path.dirname(file)) : {};
  return tokenizerFromJson(json!, config, opts, file);
}
