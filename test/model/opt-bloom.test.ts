/**
 * OPT and BLOOM beyond the logit parity of engine-parity.test.ts and the KV-cache and greedy checks of
 * generate.test.ts: their config rules and the published parameter counts of opt-350m and bloom-560m, ALiBi slopes,
 * BLOOM's per-head query_key_value layout, every checkpoint tensor used, a left-padded batch equal to each row alone,
 * save → load in transformers' layout, the lean loss head, and OPT's slow tokenizer files.
 */
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { saveCausalLM, unusedTensorNames } from '../../core/model/io/hf-io.js';
import { loadCausalLM } from '../../core/model/load.js';
import { parseHfConfig } from '../../core/model/arch/hf-config.js';
import { alibiSlopes, reorderQkvColumns } from '../../core/model/arch/bloom.js';
import { readSafetensorsFolder } from '../../core/model/io/safetensors.js';
import { weightSpecs } from '../../core/model/arch/weight-names.js';
import { generate } from '../../core/model/generate.js';
import { SeededRandom } from '../../core/model/seeded-random.js';
import { knownConfig } from '../../core/memory/known-configs.js';
import { loadTokenizer } from '../../core/model/io/tokenizer.js';
import { estimateMemory } from '../../core/memory/estimate.js';
import { defaultMemoryPlan } from '../../core/interfaces/memory.js';
import { fixturePath, leanVsFullHead, references } from '../fixtures/model/helpers.js';

const FIXTURES = ['opt-tiny', 'opt-tiny-postln-bf16-sharded', 'bloom-tiny', 'bloom-tiny-f16-sharded'];
const OPT = {
  model_type: 'opt',
  vocab_size: 50,
  max_position_embeddings: 32,
  hidden_size: 16,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  ffn_dim: 24,
};
const BLOOM = { model_type: 'bloom', vocab_size: 50, hidden_size: 18, n_head: 3, n_layer: 1 };

const paramCount = (raw: Record<string, unknown>) =>
  weightSpecs(parseHfConfig(raw))
    .filter((s) => !s.name.startsWith('v_head.'))
    .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);

test('OPT config: switches from do_layer_norm_before, word_embed_proj_dim, enable_bias; bad fields named', (t) => {
  const pre = parseHfConfig({ ...OPT });
  t.is(pre.modelType, 'opt');
  t.false(pre.postLayerNorm);
  t.true(pre.finalLayerNorm);
  t.is(pre.dEmbed, 16);
  t.is(pre.positionOffset, 2);
  t.is(pre.activation, 'relu');
  t.true(pre.tiedEmbeddings);
  const post = parseHfConfig({ ...OPT, do_layer_norm_before: false, word_embed_proj_dim: 8, enable_bias: false });
  t.true(post.postLayerNorm);
  t.false(post.finalLayerNorm);
  t.is(post.dEmbed, 8);
  t.false(post.qkvBias || post.outBias || post.mlpBias);
  const names = weightSpecs(post).map((s) => s.name);
  t.true(names.includes('model.decoder.project_in.weight') && names.includes('model.decoder.project_out.weight'));
  t.false(names.some((n) => n.endsWith('_proj.bias') || n.endsWith('fc1.bias') || n === 'model.decoder.final_layer_norm.weight'));
  t.false(parseHfConfig({ ...OPT, _remove_final_layer_norm: true }).finalLayerNorm);
  t.throws(() => parseHfConfig({ ...OPT, layer_norm_elementwise_affine: false }), { message: /"layer_norm_elementwise_affine" is false/ });
  t.throws(() => parseHfConfig({ ...OPT, do_layer_norm_before: 'no' }), {
    message: /"do_layer_norm_before" must be true or false, got "no"/,
  });
  t.throws(() => parseHfConfig({ ...OPT, ffn_dim: undefined }), { message: /missing numeric field "ffn_dim"/ });
  t.throws(() => parseHfConfig({ ...OPT, model_type: 'llama' }), { message: /supported: gpt2, gpt_neo, gptj, opt, bloom/ });
});

test('BLOOM config: n_embed or hidden_size, ALiBi, 4·d MLP, context bound; unsupported residual named', (t) => {
  const c = parseHfConfig({ ...BLOOM });
  t.true(c.alibi && c.embedLayerNorm);
  t.is(c.dInner, 72);
  t.is(c.nPositions, 2048);
  t.is(parseHfConfig({ ...BLOOM, hidden_size: undefined, n_embed: 18, seq_length: 512 }).nPositions, 512);
  t.is(parseHfConfig({ ...BLOOM, hidden_size: undefined, n_embed: 18 }).dModel, 18);
  t.throws(() => parseHfConfig({ ...BLOOM, apply_residual_connection_post_layernorm: true }), {
    message: /"apply_residual_connection_post_layernorm" is true/,
  });
  t.throws(() => parseHfConfig({ ...BLOOM, n_head: 4 }), { message: /hidden_size 18 is not divisible by n_head 4/ });
});

test('known configs: opt-350m and bloom-560m have their published parameter counts', (t) => {
  t.is(paramCount(knownConfig('opt-350m')!), 331_196_416);
  t.is(paramCount(knownConfig('bloom-560m')!), 559_214_592);
  const opt = parseHfConfig(knownConfig('OPT-350M')!);
  t.true(opt.postLayerNorm && opt.dEmbed === 512 && opt.dModel === 1024);
});

test("plan's estimate shares what TRL shares: opt-350m's embeddings, positions, projections and first blocks", (t) => {
  const cfg = parseHfConfig(knownConfig('opt-350m')!);
  const work = { miniBatchSize: 4, seqLen: 70 };
  const none = estimateMemory(cfg, work);
  const shared = estimateMemory(cfg, work, { ...defaultMemoryPlan(), numSharedLayers: 12 });
  const block = 12_596_224; // q, k, v, out with biases, fc1, fc2 with biases, two LayerNorms at d 1024, ffn 4096
  const sharedParams = 50_272 * 512 + 2_050 * 1_024 + 2 * 512 * 1_024 + 12 * block;
  t.is(none.referenceBytes - shared.referenceBytes, sharedParams * 4);
  t.is(none.optimiserBytes - shared.optimiserBytes, 2 * sharedParams * 4);
});

test('ALiBi slopes: a power-of-two head count and the interleaved second series', (t) => {
  t.deepEqual([...alibiSlopes(8)], [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
  // 6 heads: 4 of the 4-head series 2^(-2i), then the odd terms 2^(-1), 2^(-3) of the 8-head series.
  t.deepEqual([...alibiSlopes(6)], [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]);
  t.is(alibiSlopes(16)[0], Math.fround(2 ** -0.5));
});

test("BLOOM's query_key_value: per-head [q, k, v] rows become [q | k | v] columns and back", (t) => {
  // 2 heads of size 2: Hugging Face output order q0 q0 k0 k0 v0 v0 q1 q1 k1 k1 v1 v1.
  const hf = Float32Array.from([10, 11, 20, 21, 30, 31, 12, 13, 22, 23, 32, 33]);
  const engine = reorderQkvColumns(hf, 12, 2, true);
  t.deepEqual([...engine], [10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33]);
  t.deepEqual([...reorderQkvColumns(engine, 12, 2, false)], [...hf]);
  t.throws(() => reorderQkvColumns(hf, 10, 2, true), { message: /not rows of 3·d = 10 columns/ });
});

test.serial('every checkpoint tensor is used (with or without the base prefix, F32 / BF16 / F16, sharded)', async (t) => {
  for (const ckpt of FIXTURES) {
    const dir = fixturePath(ckpt);
    const tensors = await readSafetensorsFolder(dir);
    const cfg = parseHfConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
    t.deepEqual(unusedTensorNames(cfg, tensors), [], ckpt);
  }
  t.true(
    (await readSafetensorsFolder(fixturePath('opt-tiny-postln-bf16-sharded'))).has('decoder.project_in.weight'),
    'named as OPTModel saves it',
  );
});

test.serial('a left-padded batch generates what each row generates alone (OPT, BLOOM)', async (t) => {
  await initBackend('wasm');
  for (const ckpt of FIXTURES) {
    const model = await loadCausalLM(fixturePath(ckpt));
    const prompts = [[3, 141, 59, 26, 5, 35, 89], [7, 8], references()[ckpt]!.greedy.prompt];
    const io = { padTokenId: 0, eosTokenId: 299 };
    const batch = await generate(model, { prompts, ...io }, { maxNewTokens: 6, greedy: true, rng: new SeededRandom(0) });
    for (let i = 0; i < prompts.length; i++) {
      const alone = await generate(model, { prompts: [prompts[i]!], ...io }, { maxNewTokens: 6, greedy: true, rng: new SeededRandom(0) });
      t.deepEqual(batch.responses[i], alone.responses[0], `${ckpt} row ${i}`);
    }
    model.dispose();
  }
});

test.serial("save → load keeps transformers' names and layout exactly (BLOOM's fused qkv, OPT's projections)", async (t) => {
  await initBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opt-bloom-'));
  try {
    for (const ckpt of ['opt-tiny-postln-bf16-sharded', 'bloom-tiny']) {
      const model = await loadCausalLM(fixturePath(ckpt));
      const out = path.join(dir, ckpt);
      await saveCausalLM(model, out);
      const saved = await readSafetensorsFolder(out);
      const original = await readSafetensorsFolder(fixturePath(ckpt));
      for (const [name, tensor] of original) {
        const full = saved.get(name) ?? saved.get(`model.${name}`);
        t.truthy(full, `${name} saved`);
        t.deepEqual(full!.shape, tensor.shape, name);
        t.deepEqual([...full!.data], [...tensor.data], name);
      }
      const again = await loadCausalLM(out);
      t.deepEqual(again.config.raw.model_type, model.config.modelType);
      t.is(again.config.dEmbed, model.config.dEmbed);
      t.is(again.config.postLayerNorm, model.config.postLayerNorm);
      for (const [name, v] of model.namedWeights()) t.deepEqual(again.namedWeights().get(name)!.dataSync(), v.dataSync(), name);
      again.dispose();
      model.dispose();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('lean loss head on OPT (narrow projected hidden states) equals the full logits path, values and gradients', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('opt-tiny-postln-bf16-sharded'));
  t.is(model.config.dEmbed, 16);
  const r = leanVsFullHead(model, [2, 17, 42, 99, 3, 8, 250, 11], [17, 42, 99, 3, 8, 250, 11, 4]);
  t.true(r.value < 1e-4);
  t.is(r.grads.length, 2);
  r.grads.forEach((g, i) => t.true(g < 1e-4, `gradient ${['hidden', 'embed_tokens.weight'][i]} max diff ${g}`));
  model.dispose();
});

test("OPT's slow tokenizer files with add_bos_token are refused with the way to write tokenizer.json", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opt-tok-'));
  try {
    fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, a: 3, b: 4 }));
    fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\n');
    fs.writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({ tokenizer_class: 'GPT2Tokenizer', add_bos_token: true, bos_token: '</s>' }),
    );
    await t.throwsAsync(() => loadTokenizer(dir), { message: /"add_bos_token": true \(OPT\).*AutoTokenizer\.from_pretrained/ });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
