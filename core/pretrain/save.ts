/**
 * Saving a pretrained model as one Hugging Face folder, atomically: config.json, model.safetensors,
 * value_head.safetensors and tokenizer.json (written by saveCausalLM into a staging folder), plus
 * tokenizer_config.json and pretrain.json (how the model was made) added to the staging folder, which then replaces
 * the target folder with two renames. A crash at any point leaves either the previous folder or the new one (plus,
 * at worst, a stray `<dir>.staging-*` / `<dir>.old-*` sibling), never a half-written model.
 */
import { replaceDir } from '../util/replace-dir.js';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { CausalLM } from '../model/causal-lm.js';
import { saveCausalLM } from '../model/io/hf-io.js';

/** File holding the pretraining record (options, figures) inside a saved folder. */
const PRETRAIN_INFO_FILE = 'pretrain.json';

/** What {@link savePretrained} writes besides the model. */
interface SavePretrainedOptions {
  /** tokenizer.json document. */
  tokenizerJson: string | object;
  /** tokenizer_config.json content. */
  tokenizerConfig: Record<string, unknown>;
  /** pretrain.json content (JSON-able). */
  info: Record<string, unknown>;
}

/** Saves `model` with its tokenizer and pretraining record to `dir` (replacing it atomically). */
export async function savePretrained(model: CausalLM, dir: string, opts: SavePretrainedOptions): Promise<void> {
  const target = path.resolve(dir);
  const stamp = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const staging = `${target}.staging-${stamp}`;
  try {
    await saveCausalLM(model, staging, { tokenizerJson: opts.tokenizerJson });
    await fsp.writeFile(path.join(staging, 'tokenizer_config.json'), JSON.stringify(opts.tokenizerConfig, null, 2) + '\n');
    await fsp.writeFile(path.join(staging, PRETRAIN_INFO_FILE), JSON.stringify(opts.info, null, 2) + '\n');
  } catch (e) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw e;
  }
  await replaceDir(staging, target);
}
