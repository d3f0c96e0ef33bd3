/**
 * Generation: KV-cache forward equals a full forward, left padding is invisible, greedy decoding matches the
 * PyTorch reference, seeded sampling is reproducible, min/max new tokens and EOS handling, no tensor leaks.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../core/model/wasm/backend.js';
import { generate, kthLargest, pickToken } from '../../core/model/generate.js';
import { loadCausalLM } from '../../core/model/load.js';
import { KVCache } from '../../core/model/kv-cache.js';
import { FastDecoder, fastDecoderAvailable } from '../../core/model/decode.js';
import { CausalLM } from '../../core/model/causal-lm.js';
import { makeConfig } from '../../core/model/arch/hf-config.js';
import { SeededRandom } from '../../core/model/seeded-random.js';
import { fixturePath, maxAbsDiff, references } from '../fixtures/model/helpers.js';

for (const backend of ['wasm', 'cpu'] as const) {
  test.serial(
    `KV-cache logits equal a full forward (GPT-2, GPT-Neo, GPT-J, OPT pre/post-LN and BLOOM, left-padded batch) on ${backend}`,
    async (t) => {
      await initBackend(backend);
      for (const ckpt of ['gpt2-tiny', 'gpt-neo-tiny', 'gptj-tiny', 'opt-tiny', 'opt-tiny-postln-bf16-sharded', 'bloom-tiny']) {
        const model = await loadCausalLM(fixturePath(ckpt));
        const ids = [
          [0, 0, 0, 5, 17, 42, 99, 3, 8, 250, 11, 4],
          [31, 41, 59, 26, 53, 58, 97, 93, 23, 84, 62, 64],
        ];
        const mask = [
          [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ];
        const T = 12;
        const prefill = 5;
        const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).logits);
        const fullData = (await full.data()) as Float32Array;
        const before = tf.memory().numTensors;
        const cache = new KVCache(model.config.nLayers);
        const V = model.config.vocabSize;
        let worst = 0;
        for (let s = 0; s < T; s = s === 0 ? prefill : s + 1) {
          const len = s === 0 ? prefill : 1;
          const stepLogits = tf.tidy(() => {
            const x = tf.tensor2d(
              ids.map((r) => r.slice(s, s + len)),
              undefined,
              'int32',
            );
            const m = tf.tensor2d(
              mask.map((r) => r.slice(0, s + len)),
              undefined,
              'int32',
            );
            return model.forward(x, m, { cache }).logits;
          });
          const got = (await stepLogits.data()) as Float32Array;
          stepLogits.dispose();
          for (let b = 0; b < 2; b++) {
            for (let j = 0; j < len; j++) {
              if (!mask[b]![s + j]) continue;
              const a = got.subarray((b * len + j) * V, (b * len + j + 1) * V);
              const e = fullData.subarray((b * T + s + j) * V, (b * T + s + j + 1) * V);
              worst = Math.max(worst, maxAbsDiff(a, e));
            }
          }
        }
        t.is(cache.length, T);
        cache.dispose();
        t.is(tf.memory().numTensors, before, `${ckpt}: cache steps leaked tensors`);
        t.true(worst <= 1e-4, `${ckpt}: cached vs full max |diff| ${worst}`);
        full.dispose();
        model.dispose();
      }
    },
  );
}

test.serial('fast decoder: prefill + steps equal the full forward (GPT-2, GPT-Neo local window, left padding)', async (t) => {
  await initBackend('wasm');
  for (const ckpt of ['gpt2-tiny', 'gpt-neo-tiny']) {
    const model = await loadCausalLM(fixturePath(ckpt));
    t.true(fastDecoderAvailable(model));
    const ids = [
      [0, 0, 0, 5, 17, 42, 99, 3, 8, 250, 11, 4],
      [31, 41, 59, 26, 53, 58, 97, 93, 23, 84, 62, 64],
    ];
    const mask = [
      [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ];
    const T = 12;
    const prefill = 6;
    const V = model.config.vocabSize;
    const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask, undefined, 'int32')).logits);
    const fullData = (await full.data()) as Float32Array;
    full.dispose();
    const before = tf.memory().numTensors;
    const dec = new FastDecoder(model, 2, prefill, T);
    let worst = 0;
    for (let s = 0; s < T; s = s === 0 ? prefill : s + 1) {
      const len = s === 0 ? prefill : 1;
      const got = dec.forward(
        Int32Array.from(ids.flatMap((r) => r.slice(s, s + len))),
        Int32Array.from(mask.flatMap((r) => r.slice(0, s + len))),
        len,
      );
      const pos = s + len - 1;
      for (let b = 0; b < 2; b++) {
        worst = Math.max(worst, maxAbsDiff(got.subarray(b * V, (b + 1) * V), fullData.subarray((b * T + pos) * V, (b * T + pos + 1) * V)));
      }
    }
    dec.dispose();
    t.is(tf.memory().numTensors, before, `${ckpt}: decoder leaked tensors`);
    t.true(worst <= 1e-4, `${ckpt}: decoder vs full forward max |diff| ${worst}`);
    t.throws(() => dec.forward(new Int32Array(2), new Int32Array(2 * 13), 1), { message: /disposed/ });
    model.dispose();
  }
});

test.serial('fast decoder handles a vocabulary that is not a multiple of 4 (padded head)', async (t) => {
  await initBackend('wasm');
  const cfg = makeConfig({ vocabSize: 37, nPositions: 16, dModel: 16, nHeads: 2, nLayers: 2 });
  const model = CausalLM.random(cfg, { seed: 2, std: 0.3 });
  const ids = [
    [1, 5, 9, 36, 2, 7],
    [0, 3, 3, 8, 30, 31],
  ];
  const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32'), tf.ones([2, 6], 'int32') as tf.Tensor2D).logits);
  const fullData = (await full.data()) as Float32Array;
  full.dispose();
  const dec = new FastDecoder(model, 2, 4, 6);
  const a = dec.forward(Int32Array.from(ids.flatMap((r) => r.slice(0, 4))), new Int32Array(8).fill(1), 4);
  const b = dec.forward(Int32Array.from(ids.map((r) => r[4]!)), new Int32Array(10).fill(1), 1);
  const c = dec.forward(Int32Array.from(ids.map((r) => r[5]!)), new Int32Array(12).fill(1), 1);
  dec.dispose();
  let worst = 0;
  for (const [got, pos] of [
    [a, 3],
    [b, 4],
    [c, 5],
  ] as const) {
    t.is(got.length, 2 * 37);
    for (let r = 0; r < 2; r++)
      worst = Math.max(
        worst,
        maxAbsDiff(got.subarray(r * 37, (r + 1) * 37), fullData.subarray((r * 6 + pos) * 37, (r * 6 + pos + 1) * 37)),
      );
  }
  t.true(worst < 1e-4, `max diff ${worst}`);
  model.dispose();
});

test.serial('fast and tensor decoders sample the same tokens from the same seed', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gpt-neo-tiny'));
  const input = { prompts: [[5, 17, 42], [99], [1, 2, 3, 4, 5, 6, 7]], padTokenId: 0, eosTokenId: 299 };
  const opts = { maxNewTokens: 10, temperature: 0.9, topP: 0.9 };
  const fast = await generate(model, input, { ...opts, rng: new SeededRandom(4), decoder: 'fast' });
  const tensor = await generate(model, input, { ...opts, rng: new SeededRandom(4), decoder: 'tensor' });
  t.deepEqual(fast.responses, tensor.responses);
  await initBackend('cpu');
  await t.throwsAsync(() => generate(model, input, { ...opts, rng: new SeededRandom(4), decoder: 'fast' }), {
    message: /decoder 'fast' needs the wasm backend/,
  });
  model.dispose();
});

test.serial('greedy decoding matches the PyTorch reference continuation (GPT-2, GPT-Neo, GPT-J, OPT and BLOOM)', async (t) => {
  await initBackend('wasm');
  for (const ckpt of [
    'gpt2-tiny',
    'gpt-neo-tiny',
    'gpt2-tiny-bf16-sharded',
    'gptj-tiny',
    'opt-tiny',
    'opt-tiny-postln-bf16-sharded',
    'bloom-tiny',
    'bloom-tiny-f16-sharded',
  ]) {
    const model = await loadCausalLM(fixturePath(ckpt));
    const ref = references()[ckpt]!.greedy;
    const eos = model.config.eosTokenId!;
    const out = await generate(
      model,
      { prompts: [ref.prompt], padTokenId: 0, eosTokenId: eos },
      { maxNewTokens: ref.continuation.length, greedy: true, rng: new SeededRandom(0) },
    );
    t.deepEqual(out.responses[0], ref.continuation, ckpt);
    model.dispose();
  }
});

test.serial('a left-padded batch generates exactly what each row generates alone', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gpt-neo-tiny'));
  const prompts = [
    [3, 141, 59, 26, 5, 35, 89],
    [7, 8],
    [100, 200, 12, 1],
  ];
  const io = { padTokenId: 0, eosTokenId: 299 };
  const batch = await generate(model, { prompts, ...io }, { maxNewTokens: 9, greedy: true, rng: new SeededRandom(0) });
  for (let i = 0; i < prompts.length; i++) {
    const alone = await generate(model, { prompts: [prompts[i]!], ...io }, { maxNewTokens: 9, greedy: true, rng: new SeededRandom(0) });
    t.deepEqual(batch.responses[i], alone.responses[0], `row ${i}`);
  }
  model.dispose();
});

test.serial('seeded sampling is reproducible; different seeds differ; no tensor leak', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gpt2-tiny'));
  const input = { prompts: [[5, 17, 42], [99], [1, 2, 3, 4, 5]], padTokenId: 0, eosTokenId: 299 };
  const opts = { maxNewTokens: 12, temperature: 1.3, topK: 40, topP: 0.95 };
  const before = tf.memory().numTensors;
  const a = await generate(model, input, { ...opts, rng: new SeededRandom(11) });
  const b = await generate(model, input, { ...opts, rng: new SeededRandom(11) });
  const c = await generate(model, input, { ...opts, rng: new SeededRandom(12) });
  t.is(tf.memory().numTensors, before, 'generate leaked tensors');
  t.deepEqual(a.responses, b.responses);
  t.notDeepEqual(a.responses, c.responses);
  for (const r of a.responses) t.is(r.length, 12);
  model.dispose();
});

test.serial('EOS ends a row (kept, nothing after it); min_new_tokens suppresses EOS; max_new_tokens caps', async (t) => {
  await initBackend('wasm');
  const model = await loadCausalLM(fixturePath('gpt2-tiny'));
  const ref = references()['gpt2-tiny']!.greedy;
  // Declare the third greedy token the EOS: the greedy response must stop right there, with it.
  const eos = ref.continuation[2]!;
  const io = { prompts: [ref.prompt], padTokenId: 0, eosTokenId: eos };
  const stopped = await generate(model, io, { maxNewTokens: 8, greedy: true, rng: new SeededRandom(0) });
  t.deepEqual(stopped.responses[0], ref.continuation.slice(0, ref.continuation.indexOf(eos) + 1));
  // With min_new_tokens beyond that point, EOS cannot appear in the first 5 tokens.
  const forced = await generate(model, io, { maxNewTokens: 8, minNewTokens: 5, greedy: true, rng: new SeededRandom(0) });
  t.false(forced.responses[0]!.slice(0, 5).includes(eos));
  t.true(forced.responses[0]!.length >= 5);
  // A batch where one row finishes early: the other continues to max_new_tokens.
  const mixed = await generate(
    model,
    { prompts: [ref.prompt, [7, 7, 7]], padTokenId: 0, eosTokenId: eos },
    { maxNewTokens: 8, greedy: true, rng: new SeededRandom(0) },
  );
  t.deepEqual(mixed.responses[0], stopped.responses[0]);
  t.true(mixed.responses[1]!.length === 8 || mixed.responses[1]![mixed.responses[1]!.length - 1] === eos);
  await t.throwsAsync(() => generate(model, io, { maxNewTokens: 61, rng: new SeededRandom(0) }), {
    message: /longest prompt \(4\) \+ maxNewTokens \(61\) exceeds the model's n_positions 64/,
  });
  await t.throwsAsync(() => generate(model, io, { maxNewTokens: 4, minNewTokens: 5, rng: new SeededRandom(0) }), {
    message: /minNewTokens must be an integer in \[0, maxNewTokens=4\]/,
  });
  await t.throwsAsync(() => generate(model, { ...io, prompts: [[]] }, { maxNewTokens: 4, rng: new SeededRandom(0) }), {
    message: /prompts\[0\] is empty/,
  });
  model.dispose();
});

test('pickToken: greedy, temperature, top-k and top-p follow Hugging Face semantics', (t) => {
  const logits = Float32Array.from([2.0, 1.0, 0.5, 3.0, -1.0]);
  const fixed = (u: number) => ({ next: () => u });
  t.is(pickToken(logits, -1, { greedy: true, rng: fixed(0) }), 3);
  t.is(pickToken(logits, 3, { greedy: true, rng: fixed(0) }), 0, 'suppressed token is never picked');
  // top-k = 2 keeps tokens 3 and 0 only: every u lands on one of them.
  for (const u of [0, 0.3, 0.7, 0.999]) t.true([0, 3].includes(pickToken(logits, -1, { topK: 2, rng: fixed(u) })));
  // top-p: probabilities ∝ exp(logits); p(3) ≈ 0.61, p(0) ≈ 0.22: top_p 0.5 keeps token 3 only.
  for (const u of [0, 0.5, 0.999]) t.is(pickToken(logits, -1, { topP: 0.5, rng: fixed(u) }), 3);
  // top_p 0.7 keeps {3, 0}.
  const seen = new Set([0, 0.2, 0.5, 0.8, 0.99].map((u) => pickToken(logits, -1, { topP: 0.7, rng: fixed(u) })));
  t.deepEqual([...seen].sort(), [0, 3]);
  // Sampling frequencies follow softmax(logits / T).
  const rng = new SeededRandom(1);
  const counts = new Array(5).fill(0);
  const n = 20000;
  for (let i = 0; i < n; i++) counts[pickToken(logits, -1, { temperature: 2, rng })]++;
  const z = Array.from(logits, (x) => Math.exp(x / 2));
  const sum = z.reduce((a, b) => a + b, 0);
  for (let i = 0; i < 5; i++) t.true(Math.abs(counts[i] / n - z[i]! / sum) < 0.015, `token ${i}`);
});

test('kthLargest equals a descending sort at k − 1, repeats and -Infinity included', (t) => {
  const rng = new SeededRandom(5);
  for (const [n, k] of [
    [1, 1],
    [7, 3],
    [4096, 50],
    [100, 100],
    [33, 1],
  ] as const) {
    const s = Float64Array.from({ length: n }, (_, i) => (i % 11 === 0 ? -Infinity : i % 5 === 0 ? 0.5 : Math.round(rng.next() * 40) / 4));
    const sorted = Array.from(s).sort((a, b) => b - a);
    t.is(kthLargest(s, n, k), sorted[k - 1]!, `n ${n}, k ${k}`);
  }
});
