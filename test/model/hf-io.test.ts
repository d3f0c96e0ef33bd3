/**
 * Hugging Face folder I/O and the safetensors format: dtypes, shards, name mapping, errors, and a bit-exact
 * save → load round trip.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../core/model/wasm/backend.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { saveCausalLM } from '../../core/model/io/hf-io.js';
import { loadCausalLM } from '../../core/model/load.js';
import {
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsFolder,
  readSafetensorsHeader,
  writeSafetensors,
  type HostTensor,
} from '../../core/model/io/safetensors.js';
import { fixturePath } from '../fixtures/model/helpers.js';

async function tmpDir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'engine-hfio-'));
}

async function weightsOf(m: CausalLM): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of m.namedWeights()) out.set(k, Float32Array.from(await v.data()));
  return out;
}

test.serial('safetensors: F32/F16/BF16/I32/I64 round trip with metadata; half floats decode exactly', async (t) => {
  const dir = await tmpDir();
  const file = path.join(dir, 'x.safetensors');
  const vals = Float32Array.from([0, 1, -2.5, 65504, 1e-7, -0.333333, 3.140625]);
  const tensors = new Map<string, HostTensor>([
    ['a', { dtype: 'F32', shape: [7], data: vals }],
    ['h', { dtype: 'F16', shape: [7], data: vals }],
    ['b', { dtype: 'BF16', shape: [7, 1], data: vals }],
    ['i', { dtype: 'I32', shape: [2, 2], data: Int32Array.from([1, -2, 3, 2147483647]) }],
    ['l', { dtype: 'I64', shape: [3], data: Int32Array.from([0, -5, 123456]) }],
  ]);
  await writeSafetensors(file, tensors, { format: 'pt' }, { floatDtype: 'keep' });
  const header = await readSafetensorsHeader(file);
  t.deepEqual(header.metadata, { format: 'pt' });
  t.is(header.entries.get('h')!.dtype, 'F16');
  t.is(header.dataStart % 8, 0, 'header padded to 8 bytes');
  const back = await readSafetensors(file);
  t.deepEqual(Array.from(back.get('a')!.data), Array.from(vals));
  t.deepEqual(
    Array.from(back.get('h')!.data),
    Array.from(vals, (v) => f16ToF32(f32ToF16(v))),
  );
  t.deepEqual(
    Array.from(back.get('b')!.data),
    Array.from(vals, (v) => new Float32Array(new Uint32Array([f32ToBf16(v) << 16]).buffer)[0]),
  );
  t.is(back.get('b')!.dtype, 'BF16');
  t.deepEqual(back.get('b')!.shape, [7, 1]);
  t.deepEqual(Array.from(back.get('i')!.data), [1, -2, 3, 2147483647]);
  t.deepEqual(Array.from(back.get('l')!.data), [0, -5, 123456]);
  t.is(back.get('l')!.dtype, 'I64');
  t.is(f16ToF32(f32ToF16(65504)), 65504);
  t.is(f16ToF32(0x3c00), 1);
  t.is(f16ToF32(0x0001), 2 ** -24);
  // Default write converts every float to F32.
  await writeSafetensors(file, tensors);
  t.is((await readSafetensorsHeader(file)).entries.get('h')!.dtype, 'F32');
  await fsp.rm(dir, { recursive: true });
});

test.serial('safetensors: errors name the file and the tensor', async (t) => {
  const dir = await tmpDir();
  const file = path.join(dir, 'bad.safetensors');
  await t.throwsAsync(() => readSafetensors(file), { message: new RegExp(`safetensors ${file}: cannot open`) });
  // Header that claims more bytes than the file holds.
  const h = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  await fsp.writeFile(file, Buffer.concat([len, h, Buffer.alloc(8)]));
  await t.throwsAsync(() => readSafetensors(file), { message: /tensor "w" has data_offsets \[0, 16\] outside the 8-byte data section/ });
  const h2 = Buffer.from(JSON.stringify({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }));
  len.writeBigUInt64LE(BigInt(h2.length));
  await fsp.writeFile(file, Buffer.concat([len, h2, Buffer.alloc(8)]));
  await t.throwsAsync(() => readSafetensors(file), { message: /tensor "w" has dtype F64; supported: F32, F16, BF16, I32, I64/ });
  await t.throwsAsync(() => writeSafetensors(file, new Map([['x', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]])), {
    message: /tensor "x" has shape \[3\] \(3 elements\) but 2 values/,
  });
  await t.throwsAsync(() => readSafetensorsFolder(dir), { message: /found neither model.safetensors nor model.safetensors.index.json/ });
  await fsp.rm(dir, { recursive: true });
});

test.serial('loadCausalLM: sharded BF16 checkpoint and F16 checkpoint without value head (seeded init)', async (t) => {
  await initBackend('wasm');
  const sharded = await loadCausalLM(fixturePath('gpt2-tiny-bf16-sharded'));
  const plain = await loadCausalLM(fixturePath('gpt2-tiny'));
  // BF16 weights are the F32 ones rounded to bfloat16: relative error ≤ 2^-8.
  const a = await weightsOf(sharded);
  const b = await weightsOf(plain);
  for (const [k, v] of b) {
    const w = a.get(k)!;
    for (let i = 0; i < v.length; i++) t.true(Math.abs(w[i]! - v[i]!) <= Math.abs(v[i]!) * 2 ** -8 + 1e-30, `${k}[${i}]`);
  }
  const f16a = await loadCausalLM(fixturePath('gpt-neo-tiny-f16'), { seed: 42 });
  const f16b = await loadCausalLM(fixturePath('gpt-neo-tiny-f16'), { seed: 42 });
  const f16c = await loadCausalLM(fixturePath('gpt-neo-tiny-f16'), { seed: 43 });
  const vh = async (m: CausalLM) => Array.from(await m.namedWeights().get('v_head.summary.weight')!.data());
  t.deepEqual(await vh(f16a), await vh(f16b));
  t.notDeepEqual(await vh(f16a), await vh(f16c));
  [sharded, plain, f16a, f16b, f16c].forEach((m) => m.dispose());
});

test.serial('loadCausalLM: missing tensors are listed; unknown model_type is named', async (t) => {
  await initBackend('cpu');
  const dir = await tmpDir();
  await fsp.copyFile(fixturePath('gpt2-tiny', 'config.json'), path.join(dir, 'config.json'));
  const all = await readSafetensors(fixturePath('gpt2-tiny', 'model.safetensors'));
  all.delete('h.1.mlp.c_fc.bias');
  all.delete('ln_f.weight');
  await writeSafetensors(path.join(dir, 'model.safetensors'), all);
  await t.throwsAsync(() => loadCausalLM(dir), {
    message: /missing 2 tensor\(s\): transformer\.h\.1\.mlp\.c_fc\.bias, transformer\.ln_f\.weight/,
  });
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  await t.throwsAsync(() => loadCausalLM(dir), { message: /model_type "bert" is not supported; supported: gpt2, gpt_neo/ });
  await fsp.rm(dir, { recursive: true });
});

for (const ckpt of ['gpt2-tiny', 'gpt-neo-tiny']) {
  test.serial(`saveCausalLM → loadCausalLM is bit-for-bit identical (${ckpt})`, async (t) => {
    await initBackend('wasm');
    const model = await loadCausalLM(fixturePath(ckpt));
    // Perturb the weights so the round trip is not just the fixture's bytes.
    for (const v of model.namedWeights().values()) v.assign(tf.tidy(() => tf.add(tf.mul(v, 1.0001), 1e-3)));
    const dir = path.join(await tmpDir(), 'saved');
    await fsp.mkdir(dir);
    await fsp.writeFile(path.join(dir, 'stale.txt'), 'old content');
    await saveCausalLM(model, dir, { tokenizerJson: { version: '1.0', model: { type: 'BPE' } } });
    const files = (await fsp.readdir(dir)).sort();
    t.deepEqual(files, ['config.json', 'model.safetensors', 'tokenizer.json', 'value_head.safetensors']);
    const siblings = await fsp.readdir(path.dirname(dir));
    t.deepEqual(siblings, ['saved'], 'no temporary folder left behind');
    const header = await readSafetensorsHeader(path.join(dir, 'model.safetensors'));
    t.true([...header.entries.keys()].every((k) => k.startsWith('transformer.')));
    t.true([...header.entries.values()].every((e) => e.dtype === 'F32'));
    if (ckpt === 'gpt-neo-tiny') {
      // HF layout on disk: nn.Linear weights [out, in].
      t.deepEqual(header.entries.get('transformer.h.0.mlp.c_fc.weight')!.shape, [128, 32]);
    }
    const loaded = await loadCausalLM(dir);
    const a = await weightsOf(model);
    const b = await weightsOf(loaded);
    t.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) t.deepEqual(Buffer.from(b.get(k)!.buffer), Buffer.from(v.buffer), k);
    t.deepEqual(loaded.config.attentionTypes, model.config.attentionTypes);
    model.dispose();
    loaded.dispose();
    await fsp.rm(path.dirname(dir), { recursive: true });
  });
}

test.serial('a model made from scratch saves and loads (config written from the engine config)', async (t) => {
  await initBackend('cpu');
  const cfg = makeConfig({
    modelType: 'gpt_neo',
    vocabSize: 40,
    nPositions: 12,
    dModel: 8,
    nHeads: 2,
    nLayers: 2,
    attentionTypes: ['global', 'local'],
    windowSize: 3,
  });
  const m = CausalLM.random(cfg, { seed: 1 });
  const dir = path.join(await tmpDir(), 'neo');
  await saveCausalLM(m, dir);
  const cfgJson = JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8'));
  t.is(cfgJson.model_type, 'gpt_neo');
  t.deepEqual(cfgJson.attention_types, [[['global', 'local'], 1]]);
  const back = await loadCausalLM(dir);
  const ids = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
  const mask = tf.ones([1, 5], 'int32') as tf.Tensor2D;
  t.deepEqual(Array.from(await back.forward(ids, mask).logits.data()), Array.from(await m.forward(ids, mask).logits.data()));
  m.dispose();
  back.dispose();
  await fsp.rm(path.dirname(dir), { recursive: true });
});
