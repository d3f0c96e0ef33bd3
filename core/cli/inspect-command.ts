import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName, type BackendInfo } from '../model/wasm/backend.js';
import { readHfConfig } from '../model/io/hf-io.js';
import { loadCausalLM } from '../model/load.js';
import { loadSequenceClassifier } from '../model/roberta.js';
import { isCausalClassifierConfig } from '../model/gpt2-classifier.js';
import { loadTokenizer, type Tokenizer } from '../model/io/tokenizer.js';
import { generate } from '../model/generate.js';
import { readSafetensorsFolder, readSafetensorsHeader } from '../model/io/safetensors.js';
import { asUsage, UserError } from '../exit.js';

interface InspectOptions {
  text?: string;
  inputIds?: string;
  attentionMask?: string;
  json?: boolean;
  maxNewTokens: number;
  backend: BackendName;
}

const parseIds = (what: string, s: string): number[][] => {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new UserError(`${what}: not JSON (expected e.g. '[[50256, 464]]')`);
  }
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((r) => Array.isArray(r) && r.length === (v as unknown[][])[0]!.length && r.every((x) => Number.isInteger(x)))
  ) {
    throw new UserError(`${what}: expected a non-empty rectangular list of integer lists, e.g. '[[1, 2], [3, 4]]'`);
  }
  return v as number[][];
};

/**
 * `detox-lab inspect <model-dir>`: what a checkpoint is (architecture, parameters, dtypes,
 * tokenizer) and what it computes (a greedy continuation, class probabilities, or raw logits as JSON).
 */
export async function inspectCommand(dir: string, o: InspectOptions): Promise<string> {
  tf.env().set('PROD', true); // no TensorFlow.js banners in the output
  const info: BackendInfo = await initBackend(o.backend);
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new UserError(`${dir}: no config.json (not a Hugging Face model folder)`);
  const raw = await asUsage(
    `${dir}/config.json`,
    () => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { model_type?: string },
  );
  const isClassifier = raw.model_type === 'roberta' || isCausalClassifierConfig(raw as Record<string, unknown>);
  let tokenizer: Tokenizer | null = null;
  try {
    tokenizer = await loadTokenizer(dir);
  } catch {
    tokenizer = null;
  }
  const ids = o.inputIds ? parseIds('--input-ids', o.inputIds) : null;
  const mask = o.attentionMask ? parseIds('--attention-mask', o.attentionMask) : ids?.map((r) => r.map(() => 1));
  if (ids && mask && (mask.length !== ids.length || mask[0]!.length !== ids[0]!.length)) {
    throw new UserError('--attention-mask must have the shape of --input-ids');
  }
  if (o.text !== undefined && !tokenizer)
    throw new UserError(`${dir} has no tokenizer.json: --text needs one (use --input-ids to work on token ids)`);
  const lines: string[] = [];

  if (isClassifier) {
    const cls = await asUsage(dir, () => loadSequenceClassifier(dir));
    try {
      const params = countParams(await readSafetensorsFolder(dir));
      lines.push(
        `architecture: ${'architecture' in cls.config ? cls.config.architecture : 'RobertaForSequenceClassification'} (${cls.config.numLayers ?? '?'} layers)`,
        `labels: ${cls.labels.join(', ')}`,
        `parameters: ${params.toLocaleString('en')}`,
      );
      if (ids) {
        const logits = cls.classify(ids, mask!);
        const out = (await logits.array()) as number[][];
        logits.dispose();
        if (o.json) return JSON.stringify({ logits: out });
        lines.push(`logits: ${JSON.stringify(out)}`);
      }
      if (o.text !== undefined) {
        const [row] = await cls.classifyTexts([o.text]);
        const probs = softmax(row!);
        if (o.json) return JSON.stringify({ logits: [row], probabilities: Object.fromEntries(cls.labels.map((l, i) => [l, probs[i]])) });
        lines.push(...cls.labels.map((l, i) => `P(${l}) = ${probs[i]!.toFixed(4)}`));
      }
    } finally {
      cls.dispose();
    }
  } else {
    const cfg = await asUsage(dir, () => readHfConfig(dir));
    const model = await asUsage(dir, () => loadCausalLM(dir));
    try {
      const params = [...model.namedWeights().values()].reduce((a, v) => a + v.size, 0);
      lines.push(
        `architecture: ${cfg.modelType} causal LM + value head: ${cfg.nLayers} layers, d ${cfg.dModel}, ${cfg.nHeads} heads, vocab ${cfg.vocabSize}, context ${cfg.nPositions}`,
        ...(cfg.modelType === 'gpt_neo' ? [`attention layers: ${cfg.attentionTypes.join(', ')} (window ${cfg.windowSize})`] : []),
        ...(cfg.modelType === 'opt'
          ? [
              `blocks: ${cfg.postLayerNorm ? 'post-LayerNorm, no final LayerNorm' : 'pre-LayerNorm'}, ${cfg.activation}` +
                (cfg.dEmbed !== cfg.dModel ? `, embeddings ${cfg.dEmbed} wide (project_in / project_out)` : ''),
            ]
          : []),
        ...(cfg.modelType === 'bloom'
          ? [`positions: ALiBi over ${cfg.nHeads} heads (no table; context bounded at ${cfg.nPositions})`]
          : []),
        `parameters: ${params.toLocaleString('en')} (float32 in memory; stored ${await storedDtypes(dir)})`,
      );
      if (ids) {
        const out = tf.tidy(() =>
          model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask!, undefined, 'int32')).logits.arraySync(),
        );
        if (o.json) return JSON.stringify({ logits: out });
        lines.push(`logits: [${ids.length}, ${ids[0]!.length}, ${cfg.vocabSize}] (use --json to print them)`);
      }
      if (o.text !== undefined) {
        const prompt = tokenizer!.encode(o.text);
        const { responses } = await generate(
          model,
          { prompts: [prompt], padTokenId: tokenizer!.padTokenId, eosTokenId: tokenizer!.eosTokenId },
          { maxNewTokens: o.maxNewTokens, greedy: true, rng: { next: () => 0 } },
        );
        const cont = tokenizer!.decode(responses[0]!, { skipSpecialTokens: true });
        if (o.json) return JSON.stringify({ prompt: o.text, continuation: cont, ids: responses[0] });
        lines.push(`greedy continuation: ${JSON.stringify(o.text)} → ${JSON.stringify(cont)}`);
      }
    } finally {
      model.dispose();
    }
  }
  lines.push(
    tokenizer
      ? `tokenizer: ${tokenizer.vocabSize} ids, eos ${JSON.stringify(tokenizer.eosToken)} (${tokenizer.eosTokenId}), pad ${tokenizer.padIsEos ? '= eos' : JSON.stringify(tokenizer.padToken)}`
      : 'tokenizer: none (tokenizer.json missing: token ids only)',
  );
  lines.push(`backend: ${info.tfBackend}${info.patchedKernels?.length ? ` (project kernels: ${info.patchedKernels.join(', ')})` : ''}`);
  if (info.matmulDescription) lines.push(`matmul: ${info.matmul} — ${info.matmulDescription}`);
  return lines.join('\n');
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

function countParams(tensors: Map<string, { shape: number[] }>): number {
  let n = 0;
  for (const t of tensors.values()) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

async function storedDtypes(dir: string): Promise<string> {
  const dtypes = new Set<string>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.safetensors'))) {
    const header = await readSafetensorsHeader(path.join(dir, f));
    for (const e of header.entries.values()) dtypes.add(e.dtype);
  }
  return [...dtypes].join(', ') || 'unknown';
}
