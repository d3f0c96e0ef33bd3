/**
 * Engine benchmark: PPO-style training step and KV-cache sampling throughput on the wasm backend, each next to
 * the PyTorch reference (shared/peer/peer.py) measured in the same invocation.
 *
 * Run: `node dist/bench/engine.js` (after tsc), or import { benchEngine }.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend } from '../core/model/wasm/backend.js';
import { CausalLM } from '../core/model/causal-lm.js';
import { FusedAdam } from '../core/model/wasm/fused-adam.js';
import { generate } from '../core/model/generate.js';
import { makeConfig } from '../core/model/arch/hf-config.js';
import { SeededRandom } from '../core/model/seeded-random.js';
import { tokenLogProbs } from '../core/model/log-probs.js';
import { kernelsUseFma } from '../core/model/wasm/simd.js';
import { disableGemmThreads } from '../core/model/wasm/threads.js';

/** Benchmark shapes, identical to peer.py's. */
const CONFIGS = {
  S: { nLayers: 2, dModel: 128, nHeads: 4, vocab: 1024, seq: 48, batch: 8 },
  M: { nLayers: 4, dModel: 256, nHeads: 8, vocab: 4096, seq: 64, batch: 8 },
  /** gpt-neo-125M's shape (12 layers, d 768, 12 heads, vocab 50257, local/global attention, window 256); random weights. */
  neo125m: { nLayers: 12, dModel: 768, nHeads: 12, vocab: 50257, seq: 64, batch: 8, neo: true },
} as const;
type ConfigName = keyof typeof CONFIGS;
const PROMPT_LEN = 16;
const NEW_TOKENS = 32;

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function buildModel(name: ConfigName): CausalLM {
  const c = CONFIGS[name];
  const neo = 'neo' in c;
  const cfg = makeConfig({
    vocabSize: c.vocab,
    nPositions: neo ? 2048 : Math.max(c.seq, PROMPT_LEN + NEW_TOKENS),
    dModel: c.dModel,
    nHeads: c.nHeads,
    nLayers: c.nLayers,
    ...(neo
      ? {
          modelType: 'gpt_neo' as const,
          windowSize: 256,
          attentionTypes: Array.from({ length: c.nLayers }, (_, i) => (i % 2 ? 'local' : 'global') as 'local' | 'global'),
        }
      : {}),
  });
  return CausalLM.random(cfg, { seed: 0, std: 0.02 });
}

/** PPO clipped policy loss + clipped value loss (peer.py's ppo_loss). */
function ppoLoss(
  model: CausalLM,
  tokens: tf.Tensor2D,
  mask: tf.Tensor2D,
  oldLogp: tf.Tensor2D,
  oldValues: tf.Tensor2D,
  adv: tf.Tensor2D,
  returns: tf.Tensor2D,
): tf.Scalar {
  const [b, t] = tokens.shape;
  const hidden = model.hiddenStates(tokens, mask); // [B, T, d]
  const h = tf.slice(hidden, [0, 0, 0], [b, t - 1, -1]); // [B, T-1, d]
  const logp = tokenLogProbs(model, h, tf.slice(tokens, [0, 1], [b, t - 1]) as tf.Tensor2D); // [B, T-1]
  const values = model.valueHead(h) as tf.Tensor2D; // [B, T-1]
  const ratio = tf.exp(tf.sub(logp, oldLogp)); // [B, T-1]
  const pg1 = tf.mul(tf.neg(adv), ratio); // [B, T-1]
  const pg2 = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 0.8, 1.2)); // [B, T-1]
  const pgLoss = tf.mean(tf.maximum(pg1, pg2)); // scalar
  const vClipped = tf.add(oldValues, tf.clipByValue(tf.sub(values, oldValues), -0.2, 0.2)); // [B, T-1]
  const vf1 = tf.square(tf.sub(values, returns)); // [B, T-1]
  const vf2 = tf.square(tf.sub(vClipped, returns)); // [B, T-1]
  const vfLoss = tf.mul(0.5, tf.mean(tf.maximum(vf1, vf2))); // scalar
  return tf.add(pgLoss, tf.mul(0.1, vfLoss)) as tf.Scalar;
}

/** Median ms of forward + loss + backward + Adam, after warm-up steps. */
export async function benchTrainStep(
  name: ConfigName,
  steps = 10,
  warmup = 5,
): Promise<{ medianMs: number; minMs: number; lossFirst: number; lossLast: number }> {
  const c = CONFIGS[name];
  const model = buildModel(name);
  const rng = new SeededRandom(1);
  const ids = Int32Array.from({ length: c.batch * c.seq }, () => Math.floor(rng.next() * c.vocab));
  const tokens = tf.tensor2d(ids, [c.batch, c.seq], 'int32'); // [B, T]
  const mask = tf.ones([c.batch, c.seq], 'int32') as tf.Tensor2D; // [B, T]
  const [oldLogp, oldValues] = tf.tidy(() => {
    const hidden = model.hiddenStates(tokens, mask); // [B, T, d]
    const h = tf.slice(hidden, [0, 0, 0], [c.batch, c.seq - 1, -1]); // [B, T-1, d]
    const lp = tokenLogProbs(model, h, tf.slice(tokens, [0, 1], [c.batch, c.seq - 1]) as tf.Tensor2D); // [B, T-1]
    const v = model.valueHead(h); // [B, T-1]
    const noise = () => tf.tensor2d(rng.normalArray(c.batch * (c.seq - 1), 0.01), [c.batch, c.seq - 1]);
    return [tf.add(lp, noise()), tf.add(v, noise())] as tf.Tensor2D[];
  });
  const adv = tf.tensor2d(rng.normalArray(c.batch * (c.seq - 1), 1), [c.batch, c.seq - 1]);
  const returns = tf.tensor2d(rng.normalArray(c.batch * (c.seq - 1), 1), [c.batch, c.seq - 1]);
  const opt = new FusedAdam(1e-5, 0.9, 0.999, 1e-8);
  const vars = model.trainableVariables();
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const loss = opt.minimize(() => ppoLoss(model, tokens, mask, oldLogp!, oldValues!, adv, returns), true, vars)!;
    const value = (await loss.data())[0]!;
    const dt = performance.now() - t0;
    loss.dispose();
    losses.push(value);
    if (i >= warmup) times.push(dt);
  }
  opt.dispose();
  tf.dispose([tokens, mask, oldLogp!, oldValues!, adv, returns]);
  model.dispose();
  return { medianMs: median(times), minMs: Math.min(...times), lossFirst: losses[0]!, lossLast: losses[losses.length - 1]! };
}

/** Sampling throughput: batch 8, 16-token prompts, 32 new tokens (EOS suppressed, as peer.py never stops). */
export async function benchSampling(name: ConfigName, reps = 3): Promise<{ tokensPerS: number; medianMs: number }> {
  const c = CONFIGS[name];
  const model = buildModel(name);
  const rng = new SeededRandom(3);
  const prompts = Array.from({ length: c.batch }, () => Array.from({ length: PROMPT_LEN }, () => Math.floor(rng.next() * c.vocab)));
  const io = { prompts, padTokenId: 0, eosTokenId: c.vocab - 1 };
  const opts = { maxNewTokens: NEW_TOKENS, minNewTokens: NEW_TOKENS };
  await generate(model, io, { ...opts, rng: new SeededRandom(11) }); // warm-up
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const out = await generate(model, io, { ...opts, rng: new SeededRandom(100 + r) });
    times.push(performance.now() - t0);
    if (out.responses.some((x) => x.length !== NEW_TOKENS)) throw new Error('benchSampling: a row stopped early');
  }
  model.dispose();
  const med = median(times);
  return { tokensPerS: (c.batch * NEW_TOKENS) / (med / 1000), medianMs: med };
}

interface PeerResult {
  trainMs?: number;
  sampleTokS?: number;
  note?: string;
}

/** Runs peer.py with 1 and 2 threads and keeps the better figure of each (`what`: peer.py's measurements). */
export function runPeer(name: ConfigName, root: string, what = 'train,sample'): PeerResult {
  const peer = path.resolve(root, '../shared/peer/peer.py');
  const python = '/usr/bin/python3';
  if (!existsSync(peer)) return { note: `PyTorch column skipped: ${peer} not found` };
  if (!existsSync(python)) return { note: `PyTorch column skipped: ${python} not found` };
  const res: PeerResult = {};
  for (const threads of [1, 2]) {
    const r = spawnSync(python, [peer, '--config', name, '--what', what, '--threads', String(threads)], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) {
      const why = (r.stderr || r.error?.message || '').trim().split('\n').pop();
      return { note: `PyTorch column skipped: peer.py failed (${why}); it needs /usr/bin/python3 with torch` };
    }
    for (const line of r.stdout.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      const j = JSON.parse(line) as { op: string; median_ms?: number; tokens_per_s?: number };
      if (j.op === 'train_step' && j.median_ms !== undefined) res.trainMs = Math.min(res.trainMs ?? Infinity, j.median_ms);
      if (j.op === 'sample_kv' && j.tokens_per_s !== undefined) res.sampleTokS = Math.max(res.sampleTokS ?? 0, j.tokens_per_s);
    }
  }
  return res;
}

/** Prints train-step and sampling figures for S and M next to PyTorch's, with ratios. */
export async function benchEngine(opts: { configs?: ConfigName[]; backend?: 'wasm' | 'cpu' } = {}): Promise<void> {
  const info = await initBackend(opts.backend ?? 'wasm');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  // One untimed round first: V8 optimises the JS around the kernels during the first steps.
  await benchTrainStep('S', 2, 3);
  await benchSampling('S', 1);
  const fma = info.tfBackend === 'wasm' ? `, fma ${kernelsUseFma()}` : '';
  console.log(
    `engine benchmark: backend ${info.tfBackend}${info.simd !== undefined ? ` (simd ${info.simd}${fma})` : ''}, node ${process.version}`,
  );
  for (const name of opts.configs ?? (['S', 'M'] as ConfigName[])) {
    const c = CONFIGS[name];
    const train1 = await benchTrainStep(name);
    let train2: Awaited<ReturnType<typeof benchTrainStep>> | undefined;
    if (info.tfBackend === 'wasm') {
      // Second figure with large GEMMs split over two threads (as peer.py reports the better of 1 and 2 threads).
      await initBackend('wasm', { threads: 2 });
      train2 = await benchTrainStep(name);
      await initBackend('wasm', { threads: 1 });
    }
    const train = train2 && train2.medianMs < train1.medianMs ? train2 : train1;
    const sample = await benchSampling(name);
    const peer = runPeer(name, root);
    console.log(`\n[${name}] ${c.nLayers} layers, d ${c.dModel}, ${c.nHeads} heads, vocab ${c.vocab}, seq ${c.seq}, batch ${c.batch}`);
    const trainRatio = peer.trainMs
      ? ` | PyTorch ${peer.trainMs.toFixed(1)} ms | ratio ${(train.medianMs / peer.trainMs).toFixed(2)}x time (target <= 2x)`
      : '';
    const threads = train2 ? ` (1 thread ${train1.medianMs.toFixed(1)}, 2 threads ${train2.medianMs.toFixed(1)})` : '';
    console.log(
      `  train step   : ${train.medianMs.toFixed(1)} ms median${threads}, loss ${train.lossFirst.toFixed(4)} -> ${train.lossLast.toFixed(4)}${trainRatio}`,
    );
    const sampleRatio = peer.sampleTokS
      ? ` | PyTorch ${peer.sampleTokS.toFixed(0)} tok/s | ratio ${(sample.tokensPerS / peer.sampleTokS).toFixed(2)}x throughput (target >= 1x)`
      : '';
    console.log(`  sampling (KV): ${sample.tokensPerS.toFixed(0)} tok/s (${sample.medianMs.toFixed(1)} ms per batch)${sampleRatio}`);
    if (peer.note) console.log(`  ${peer.note}`);
  }
  await disableGemmThreads();
}

/** gpt-neo-125M-shaped random weights: forward (batch 8 × 64 tokens) and one PPO-style train step. No PyTorch peer shape exists for it. */
export async function benchNeo125m(): Promise<void> {
  await initBackend('wasm');
  const c = CONFIGS.neo125m;
  const model = buildModel('neo125m');
  const params = model.trainableVariables().reduce((a, v) => a + v.size, 0);
  const ids = tf.tensor2d(
    Int32Array.from({ length: c.batch * c.seq }, (_, i) => (i * 7919) % c.vocab),
    [c.batch, c.seq],
    'int32',
  ); // [B, T]
  const mask = tf.ones([c.batch, c.seq], 'int32') as tf.Tensor2D; // [B, T]
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const out = model.forward(ids, mask);
    await out.logits.data();
    tf.dispose([out.logits, out.values]);
    times.push(performance.now() - t0);
  }
  tf.dispose([ids, mask]);
  model.dispose();
  const train = await benchTrainStep('neo125m', 1, 1);
  console.log(`[gpt-neo-125M shape] ${(params / 1e6).toFixed(1)} M parameters, batch ${c.batch} × ${c.seq} tokens`);
  console.log(`  forward     : ${median(times.slice(1)).toFixed(0)} ms`);
  console.log(`  train step  : ${train.medianMs.toFixed(0)} ms (forward + PPO loss + backward + Adam)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const configs = process.argv.slice(2).filter((a): a is ConfigName => a === 'S' || a === 'M');
  benchEngine({ configs: configs.length ? configs : undefined }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
