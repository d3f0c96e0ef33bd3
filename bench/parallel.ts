/**
 * Data-parallel benchmark (core/parallel): for model M (4 layers, d 256, 8 heads, vocab 4096, random weights),
 * 1. a train step — forward + TRL's PPO loss + backward + Adam on batch 8 × 64 tokens, like bench/engine.ts;
 * 2. one full PPO iteration — sampling 32 new tokens for 8 prompts of 16 tokens, scoring the texts with the
 *    lexicon classifier, and PpoStepper.step (rollout, 4 epochs of one mini-batch of 8);
 * for 1 thread and N = os.availableParallelism() threads, with the 'js' (wasm SIMD) and, when its addon is built,
 * the 'native' (OpenBLAS) matmul, beside PyTorch (/usr/bin/python3 ../shared/peer/peer.py, best of 1 and 2
 * threads; the iteration reference is the same work written with peer.py's model: KV sampling, two no-grad
 * forwards, four loss + backward + Adam steps, no classifier). Variants are interleaved round by round; medians.
 *
 * Run: `node dist/bench/parallel.js` (after tsc), or import { benchParallel }.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend, type BackendInfo } from '../core/model/wasm/backend.js';
import { CausalLM } from '../core/model/causal-lm.js';
import { makeConfig } from '../core/model/arch/hf-config.js';
import { saveCausalLM } from '../core/model/io/hf-io.js';
import { SeededRandom } from '../core/model/seeded-random.js';
import { prepareExperiment, type PreparedExperiment } from '../core/config/prepare.js';
import { buildPluginContext, create } from '../core/di/container.js';
import type { SlotConfig } from '../core/config/schema.js';
import type { Policy } from '../core/interfaces/policy.js';
import type { Optimiser } from '../core/interfaces/optimiser.js';
import type { RewardModel } from '../core/interfaces/reward.js';
import { buildBatch, type PpoBatch } from '../core/ppo/batch.js';
import { LocalCompute, PpoStepper, type PpoAdvantages, type PpoCompute, type PpoRollout } from '../core/ppo/step.js';
import { ParallelCompute } from '../core/parallel/parallel-compute.js';
import { Rng } from '../core/util/rng.js';
import { builtinPlugins } from '../plugins/index.js';
import { median, runPeer } from './engine.js';

const M = { nLayers: 4, dModel: 256, nHeads: 8, vocab: 4096, seq: 64, batch: 8 };
const PROMPT = 16;
const NEW = 32;

/** A project folder with model M (random weights, the embedded policy's 4,096-token tokenizer) and its config. */
async function projectM(matmul: 'js' | 'native', workers: number): Promise<{ dir: string; prepared: PreparedExperiment }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-bench-parallel-'));
  const model = CausalLM.random(
    makeConfig({ vocabSize: M.vocab, nPositions: 128, dModel: M.dModel, nHeads: M.nHeads, nLayers: M.nLayers }),
    { seed: 0, std: 0.02 },
  );
  const tokenizerJson = JSON.parse(fs.readFileSync(path.join(root, 'models/tiny-gpt2/tokenizer.json'), 'utf8')) as object;
  await saveCausalLM(model, path.join(dir, 'model'), { tokenizerJson });
  model.dispose();
  fs.writeFileSync(path.join(dir, 'prompts.txt'), 'a prompt\nanother prompt\n');
  fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"bench","private":true}\n');
  fs.writeFileSync(
    path.join(dir, '.detoxrc.json'),
    JSON.stringify({
      backend: 'wasm',
      matmul,
      workers,
      policy: { type: 'hf-causal-lm', path: 'model' },
      reward: { model: { type: 'lexicon-toxicity' }, transform: { type: 'raw-logit' } },
      data: { dataset: { type: 'prompt-file', path: 'prompts.txt' } },
      optimiser: { type: 'adam', learningRate: 1e-5 },
      ppo: { batchSize: M.batch, miniBatchSize: M.batch, ppoEpochs: 4 },
    }),
  );
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), builtins: builtinPlugins });
  return { dir, prepared };
}

interface Arm {
  label: string;
  policy: Policy;
  optimiser: Optimiser;
  compute: PpoCompute;
  parallel?: ParallelCompute;
  classifier: RewardModel;
}

async function buildArm(label: string, prepared: PreparedExperiment, dir: string, workers: number): Promise<Arm> {
  const cfg = prepared.config;
  const { ctx } = await buildPluginContext(cfg, prepared.registry, { configDir: dir, log: () => {} });
  const policy = await create(prepared.registry, 'policy', cfg.policy as SlotConfig, ctx);
  const optimiser = await create(prepared.registry, 'optimiser', cfg.optimiser as SlotConfig, ctx);
  const classifier = await create(prepared.registry, 'reward-model', cfg.reward.model as SlotConfig, ctx);
  const parallel =
    workers > 1
      ? await ParallelCompute.start({
          config: cfg,
          configDir: dir,
          plugins: prepared.registry,
          rewardModel: classifier,
          policy,
          workers,
          backendOptions: { matmul: cfg.matmul },
        })
      : undefined;
  return {
    label,
    policy,
    optimiser,
    classifier,
    compute: parallel ?? new LocalCompute(policy, cfg.ppo),
    ...(parallel ? { parallel } : {}),
  };
}

/** The fixed train-step inputs: batch 8 × 64 tokens (16 query + 48 response), rollout arrays with small noise. */
function trainInputs(): { batch: PpoBatch; roll: PpoRollout; adv: PpoAdvantages } {
  const rng = new SeededRandom(1);
  const tok = () => Math.floor(rng.next() * M.vocab);
  const batch = buildBatch(
    Array.from({ length: M.batch }, () => Array.from({ length: PROMPT }, tok)),
    Array.from({ length: M.batch }, () => Array.from({ length: M.seq - PROMPT }, tok)),
    0,
  );
  const B = M.batch;
  const T = M.seq - 1;
  const arr = (scale: number, shift = 0) => ({ data: Float64Array.from(rng.normalArray(B * T, scale), (x) => x + shift), B, T });
  return {
    batch,
    roll: { logprobs: arr(0.01, -Math.log(M.vocab)), refLogprobs: arr(0.01, -Math.log(M.vocab)), values: arr(0.01) },
    adv: { values: arr(0.01), advantages: arr(1), returns: arr(1) },
  };
}

/** One train step: the mini-batch's gradients (all rows) and the Adam update. Milliseconds. */
async function trainStep(arm: Arm, inputs: ReturnType<typeof trainInputs>): Promise<number> {
  const rows = Array.from({ length: M.batch }, (_, i) => i);
  const t0 = performance.now();
  const { grads } = await arm.compute.minibatch(inputs.batch, rows, inputs.roll, inputs.adv);
  const vars = arm.policy.trainableVariables();
  arm.optimiser.apply(vars, grads);
  arm.compute.weightsUpdated?.();
  await vars[0]!.data(); // the update has run
  tf.dispose(grads);
  return performance.now() - t0;
}

/** One PPO iteration: sample, score, step. Milliseconds. */
async function ppoIteration(arm: Arm, stepper: PpoStepper, rng: Rng, prompts: number[][]): Promise<number> {
  const t0 = performance.now();
  const opts = { maxNewTokens: NEW, minNewTokens: NEW, rng };
  const responses = await (arm.parallel ? arm.parallel.generate(prompts, opts) : arm.policy.generate(prompts, opts));
  const texts = responses.map((r) => arm.policy.tokenizer.decode(r, { skipSpecialTokens: true }));
  const logits = await arm.classifier.classify(texts);
  await stepper.step(
    prompts,
    responses,
    logits.map((l) => l[0]! - l[1]!),
  );
  return performance.now() - t0;
}

/** PyTorch reference: train step (peer.py) and a PPO iteration with peer.py's model; best of 1 and 2 threads. */
function peerReference(root: string): { trainMs?: number; iterMs?: number; note?: string } {
  const peer = path.resolve(root, '../shared/peer/peer.py');
  const python = '/usr/bin/python3';
  if (!fs.existsSync(peer) || !fs.existsSync(python)) return { note: `PyTorch column skipped: ${peer} or ${python} not found` };
  const iteration = `
import sys, time, statistics, copy, torch, torch.nn.functional as F
sys.path.insert(0, ${JSON.stringify(path.dirname(peer))})
import peer
torch.set_num_threads(int(sys.argv[1]))
model, c = peer.build('M'); ref = copy.deepcopy(model).eval()
opt = torch.optim.Adam(model.parameters(), lr=1e-5, eps=1e-8)
g = torch.Generator().manual_seed(1)
prompt = torch.randint(0, c['vocab'], (c['batch'], ${PROMPT}), generator=g)
def logp(lg, seq): return torch.gather(F.log_softmax(lg[:, :-1], -1), 2, seq[:, 1:].unsqueeze(-1)).squeeze(-1)
times = []
for i in range(5):
    t0 = time.perf_counter()
    with torch.no_grad():
        model.eval(); seq = peer.generate(model, prompt, ${NEW}, True, torch.Generator().manual_seed(i))
        lg, vals, _ = model(seq); old_logp = logp(lg, seq); old_values = vals[:, :-1]; ref(seq)
    model.train()
    adv = torch.randn(old_logp.shape, generator=g); returns = torch.randn(old_logp.shape, generator=g)
    for e in range(4):
        loss = peer.ppo_loss(model, seq, old_logp, old_values, adv, returns)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    if i >= 1: times.append((time.perf_counter() - t0) * 1e3)
print(statistics.median(times))
`;
  const train = runPeer('M', root, 'train');
  if (train.note) return { note: train.note };
  const out: { trainMs?: number; iterMs?: number; note?: string } = { trainMs: train.trainMs };
  for (const threads of [1, 2]) {
    const it = spawnSync(python, ['-c', iteration, String(threads)], { encoding: 'utf8', timeout: 600_000 });
    if (it.status !== 0) return { ...out, note: `PyTorch iteration skipped: ${(it.stderr || '').trim().split('\n').pop()}` };
    out.iterMs = Math.min(out.iterMs ?? Infinity, Number(it.stdout.trim().split('\n').pop()));
  }
  return out;
}

/** Prints the train-step and PPO-iteration figures for 1 and N threads (per matmul), beside PyTorch's. */
export async function benchParallel(opts: { rounds?: number; workers?: number } = {}): Promise<void> {
  const rounds = opts.rounds ?? 5;
  const N = opts.workers ?? Math.max(2, os.availableParallelism());
  const root = fileURLToPath(new URL('../..', import.meta.url));
  tf.env().set('PROD', true);
  const matmuls: ('js' | 'native')[] = ['js'];
  let info: BackendInfo = await initBackend('wasm', { matmul: 'js' });
  try {
    await initBackend('wasm', { matmul: 'native', workers: N });
    matmuls.push('native');
  } catch (err) {
    console.log(`  native matmul not measured: ${(err as Error).message.split('\n')[0]}`);
  }
  console.log(
    `parallel benchmark: model M (${M.nLayers} layers, d ${M.dModel}, ${M.nHeads} heads, vocab ${M.vocab}), ` +
      `${os.availableParallelism()} cores, 1 vs ${N} threads, ${rounds} interleaved rounds, node ${process.version}`,
  );
  const inputs = trainInputs();
  const prompts = Array.from({ length: M.batch }, (_, i) => Array.from({ length: PROMPT }, (_, t) => (i * 131 + t * 17) % M.vocab));
  const results: { matmul: string; workers: number; trainMs: number; iterMs: number }[] = [];
  for (const matmul of matmuls) {
    // The main thread's matmul for this arm pair (workers use the same mode with one BLAS thread each).
    info = await initBackend('wasm', { matmul, workers: 1 });
    const { dir, prepared } = await projectM(matmul, N);
    const arms = [await buildArm(`${matmul}, 1 thread`, prepared, dir, 1), await buildArm(`${matmul}, ${N} threads`, prepared, dir, N)];
    const steppers = arms.map((a) => new PpoStepper(a.policy, a.optimiser, [], prepared.config.ppo, new Rng(3), a.compute));
    const rngs = arms.map(() => new Rng(4));
    const train: number[][] = arms.map(() => []);
    const iter: number[][] = arms.map(() => []);
    for (let r = -1; r < rounds; r++) {
      for (let k = 0; k < arms.length; k++) {
        // Main's BLAS threads: all cores alone, one per thread beside workers.
        if (matmul === 'native') await initBackend('wasm', { matmul, workers: k === 0 ? 1 : N });
        const a = arms[k]!;
        const ts = [await trainStep(a, inputs), await trainStep(a, inputs)];
        const it = await ppoIteration(a, steppers[k]!, rngs[k]!, prompts);
        if (r >= 0) {
          train[k]!.push(...ts);
          iter[k]!.push(it);
        } // round -1 warms up
      }
    }
    arms.forEach((a, k) => results.push({ matmul, workers: k === 0 ? 1 : N, trainMs: median(train[k]!), iterMs: median(iter[k]!) }));
    for (const a of arms) {
      await a.parallel?.close();
      a.policy.dispose();
      a.optimiser.dispose();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const peer = peerReference(root);
  console.log(`  backend ${info.tfBackend}${info.matmulDescription ? ` (${info.matmulDescription} on main)` : ''}`);
  const ratio = (x: number, ref?: number) => (ref ? ` (${(x / ref).toFixed(2)}x PyTorch)` : '');
  for (const r of results) {
    console.log(
      `  matmul ${r.matmul.padEnd(6)} ${String(r.workers).padStart(2)} thread(s): train step ${r.trainMs.toFixed(1)} ms${ratio(r.trainMs, peer.trainMs)}` +
        `, PPO iteration ${r.iterMs.toFixed(0)} ms${ratio(r.iterMs, peer.iterMs)}`,
    );
  }
  if (peer.trainMs)
    console.log(
      `  PyTorch (best of 1 and 2 threads): train step ${peer.trainMs.toFixed(1)} ms (target ≤ 1.3x), PPO iteration ${peer.iterMs?.toFixed(0) ?? '?'} ms (target ≤ 1.0x)`,
    );
  if (peer.note) console.log(`  ${peer.note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rounds = Number(process.argv[2] ?? 5);
  benchParallel({ rounds }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
