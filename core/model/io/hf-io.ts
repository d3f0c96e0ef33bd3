/**
 * Reading and writing causal LMs in Hugging Face folder layout: config.json + model.safetensors (or shards with
 * model.safetensors.index.json; F32/F16/BF16) + TRL's value head in value_head.safetensors, mapped to and from the
 * engine's weight layout. Building the model from what is read is core/model/load.ts's `loadCausalLM` (io/ sits
 * below the model: see ROOMS.md); saving takes anything with a config and named weights (a CausalLM).
 */
import { replaceDir } from '../../util/replace-dir.js';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { parseHfConfig, toHfConfig, type TransformerConfig } from '../arch/hf-config.js';
import { readSafetensors, readSafetensorsFolder, writeSafetensors, type HostTensor } from './safetensors.js';
import { LM_HEAD, VHEAD_BIAS, VHEAD_WEIGHT, weightSpecs, type WeightSpec } from '../arch/weight-names.js';
import { reorderQkvColumns } from '../arch/bloom.js';

/**
 * Prefixes of base-model weights (`transformer.` for GPT-2 / GPT-Neo / GPT-J / BLOOM, `model.` for OPT): a checkpoint
 * saved from the base model (GPT2Model, OPTModel, BloomModel) names its tensors without it.
 */
const BASE_PREFIXES = ['transformer.', 'model.'];

/** File names of a saved model folder. */
export const CONFIG_FILE = 'config.json';
export const MODEL_FILE = 'model.safetensors';
export const VALUE_HEAD_FILE = 'value_head.safetensors';
export const TOKENIZER_FILE = 'tokenizer.json';

/** Checkpoint tensors that are buffers, not weights (old GPT-2 checkpoints carry the causal mask). */
const IGNORED_SUFFIXES = ['.attn.bias', '.attn.masked_bias', '.attn.attention.bias', '.attn.attention.masked_bias'];
// (GPT-J's checkpoints carry the same two buffers under `.attn.`.)

/** A tensor handed to the model on the host: data in the engine's layout. */
export interface HostWeight {
  shape: number[];
  data: Float32Array;
}

/** What saving reads of a model (a CausalLM): its config and its weights by Hugging Face name in the engine's layout. */
interface HfSavableModel {
  readonly config: TransformerConfig;
  namedWeights(): ReadonlyMap<string, { data(): Promise<unknown> }>;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) {
    const r = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[r + j]!;
  }
  return out;
}

/** Size of a weight's last axis in the engine's layout. */
const lastDim = (s: WeightSpec) => s.shape[s.shape.length - 1]!;

/** Reads and parses `dir/config.json`. */
export async function readHfConfig(dir: string): Promise<TransformerConfig> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`loadCausalLM: cannot read ${file} (${(e as Error).message})`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`loadCausalLM: ${file} is not valid JSON (${(e as Error).message})`);
  }
  return parseHfConfig(raw);
}

/** Names a checkpoint may give weight `name`: as is, without the base prefix, or under TRL's `pretrained_model.`. */
function nameCandidates(name: string): string[] {
  const prefix = BASE_PREFIXES.find((p) => name.startsWith(p));
  return prefix ? [name, name.slice(prefix.length), `pretrained_model.${name}`] : [name, `pretrained_model.${name}`];
}

function lookup(tensors: Map<string, HostTensor>, name: string): HostTensor | undefined {
  for (const c of nameCandidates(name)) {
    const t = tensors.get(c);
    if (t) return t;
  }
  return undefined;
}

/**
 * Maps checkpoint tensors (HF names and layout) to the engine's weights.
 * @returns weights in engine layout (value head entries only when present)
 * @throws listing every missing tensor, or naming a tensor whose shape is wrong
 */
export function hfTensorsToEngine(cfg: TransformerConfig, tensors: Map<string, HostTensor>, source: string): Map<string, HostWeight> {
  const out = new Map<string, HostWeight>();
  const missing: string[] = [];
  for (const s of weightSpecs(cfg)) {
    const t =
      lookup(tensors, s.name) ??
      (s.kind === 'vhead_weight' || s.kind === 'vhead_bias'
        ? tensors.get(s.name.replace('v_head.', 'pretrained_model.v_head.'))
        : undefined);
    if (!t) {
      if (s.kind !== 'vhead_weight' && s.kind !== 'vhead_bias') missing.push(s.name);
      continue;
    }
    if (!(t.data instanceof Float32Array))
      throw new Error(`${source}: tensor ${s.name} has integer dtype ${t.dtype}; expected a float tensor`);
    const hfShape = s.transposed ? [...s.shape].reverse() : s.shape;
    if (t.shape.length !== hfShape.length || t.shape.some((d, i) => d !== hfShape[i])) {
      throw new Error(
        `${source}: tensor ${s.name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(hfShape)} for this config`,
      );
    }
    const data = s.transposed ? transpose2d(t.data, hfShape[0]!, hfShape[1]!) : t.data;
    out.set(s.name, { shape: s.shape, data: s.interleavedHeads ? reorderQkvColumns(data, lastDim(s), s.interleavedHeads, true) : data });
  }
  if (missing.length) {
    throw new Error(
      `${source}: missing ${missing.length} tensor(s): ${missing.join(', ')} ` +
        `(names are accepted with or without the "${BASE_PREFIXES.join('" / "')}" prefix)`,
    );
  }
  return out;
}

/** Checkpoint tensors the engine did not use (buffers excluded), for diagnostics. */
export function unusedTensorNames(cfg: TransformerConfig, tensors: Map<string, HostTensor>): string[] {
  const used = new Set<string>();
  for (const s of weightSpecs(cfg)) for (const c of nameCandidates(s.name)) used.add(c);
  if (cfg.tiedEmbeddings) used.add(LM_HEAD); // tied: the checkpoint's copy of the embedding is not needed
  return [...tensors.keys()].filter((k) => !used.has(k) && !IGNORED_SUFFIXES.some((s) => k.endsWith(s)));
}

/**
 * Reads a causal LM checkpoint from a Hugging Face folder: its config and its weights in the engine's layout. The
 * value head comes from value_head.safetensors, or v_head.* tensors in the model file, or is absent (then the
 * model initialises it: core/model/load.ts).
 */
export async function readHfCheckpoint(dir: string): Promise<{ cfg: TransformerConfig; weights: Map<string, HostWeight> }> {
  const cfg = await readHfConfig(dir);
  const tensors = await readSafetensorsFolder(dir);
  const vhFile = path.join(dir, VALUE_HEAD_FILE);
  try {
    await fsp.access(vhFile);
    for (const [k, v] of await readSafetensors(vhFile)) tensors.set(k, v);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const weights = hfTensorsToEngine(cfg, tensors, `loadCausalLM ${dir}`);
  return { cfg, weights };
}

/** The model's weights in Hugging Face names and layout (tied lm_head omitted), value head separate. */
export async function hfStateDict(model: HfSavableModel): Promise<{ base: Map<string, HostTensor>; valueHead: Map<string, HostTensor> }> {
  const specs = weightSpecs(model.config);
  const named = model.namedWeights();
  const base = new Map<string, HostTensor>();
  const valueHead = new Map<string, HostTensor>();
  for (const s of specs) {
    const v = named.get(s.name)!;
    const engine = (await v.data()) as Float32Array;
    const data = s.interleavedHeads ? reorderQkvColumns(engine, lastDim(s), s.interleavedHeads, false) : engine;
    const hfShape = s.transposed ? [...s.shape].reverse() : s.shape;
    const hfData = s.transposed ? transpose2d(data, s.shape[0]!, s.shape[1]!) : Float32Array.from(data);
    const t: HostTensor = { dtype: 'F32', shape: hfShape, data: hfData };
    if (s.name === VHEAD_WEIGHT || s.name === VHEAD_BIAS) valueHead.set(s.name, t);
    else base.set(s.name, t);
  }
  return { base, valueHead };
}

/**
 * Saves a model as a Hugging Face folder (config.json, model.safetensors in F32 with HF names,
 * value_head.safetensors, optionally tokenizer.json). Everything is written to a temporary sibling folder that
 * then replaces `dir`, so a crash never leaves a half-written model.
 * @param opts.tokenizerJson tokenizer.json content (string or JSON object) to store alongside
 */
export async function saveCausalLM(model: HfSavableModel, dir: string, opts: { tokenizerJson?: string | object } = {}): Promise<void> {
  const target = path.resolve(dir);
  const stamp = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const tmp = `${target}.tmp-${stamp}`;
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.mkdir(tmp);
  try {
    const { base, valueHead } = await hfStateDict(model);
    await fsp.writeFile(path.join(tmp, CONFIG_FILE), JSON.stringify(toHfConfig(model.config), null, 2) + '\n');
    await writeSafetensors(path.join(tmp, MODEL_FILE), base, { format: 'pt' });
    await writeSafetensors(path.join(tmp, VALUE_HEAD_FILE), valueHead, { format: 'pt' });
    if (opts.tokenizerJson !== undefined) {
      const text = typeof opts.tokenizerJson === 'string' ? opts.tokenizerJson : JSON.stringify(opts.tokenizerJson);
      await fsp.writeFile(path.join(tmp, TOKENIZER_FILE), text);
    }
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await replaceDir(tmp, target);
}
