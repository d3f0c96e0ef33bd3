/**
 * A data-parallel worker thread: initialises its own TensorFlow.js backend, builds a replica of the policy through
 * the same plugin path as the main thread (built-in plugins + the config's plugin modules, memory strategies, then
 * the `policy` slot), then answers requests (rollout, gradients, generate) on the rows main gives it. Weights come
 * from main through shared memory before any request that needs a newer version; gradients go back the same way.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/wasm/backend.js';
import { PluginRegistry } from '../plugin/registry.js';
import { buildPluginContext, create } from '../di/container.js';
import type { SlotConfig } from '../config/schema.js';
import type { Policy } from '../interfaces/policy.js';
import type { RewardModel } from '../interfaces/reward.js';
import { Rng } from '../util/rng.js';
import { layoutMismatch, readVars, weightsChecksum, writeVars } from './layout.js';
import { shardGradients, shardRollout } from '../ppo/shard.js';
import type { WorkerInit, WorkerMessage, WorkerRequest } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

async function buildReplica(): Promise<{ policy: Policy; vars: tf.Variable[]; classifier?: RewardModel }> {
  tf.env().set('PROD', true);
  // One GEMM thread and one BLAS thread per worker: the workers are the parallelism.
  await initBackend(init.config.backend, { ...init.backendOptions, threads: 1, blasThreads: 1 });
  const registry = await PluginRegistry.fromModuleUrls(init.pluginModules);
  const { ctx } = await buildPluginContext(init.config, registry, { configDir: init.configDir, log: () => {} });
  const policy = await create(registry, 'policy', init.config.policy as SlotConfig, ctx);
  const vars = policy.trainableVariables();
  const mismatch = layoutMismatch(init.layout, vars);
  if (mismatch) throw new Error(`its policy replica does not match the main thread's: ${mismatch}`);
  const classifier = init.scoring ? await create(registry, 'reward-model', init.config.reward.model as SlotConfig, ctx) : undefined;
  return { policy, vars, ...(classifier ? { classifier } : {}) };
}

async function main(): Promise<void> {
  let replica: Awaited<ReturnType<typeof buildReplica>>;
  try {
    replica = await buildReplica();
  } catch (err) {
    post({ type: 'init-error', message: (err as Error).message });
    return;
  }
  const { policy, vars, classifier } = replica;
  const weights = new Float32Array(init.weights);
  const grads = new Float32Array(init.grads);
  const gradBase = (init.rank - 1) * init.layout.size;
  let version = -1;
  const counts = new Map<string, number>();

  const handle = async (req: WorkerRequest): Promise<unknown> => {
    const n = (counts.get(req.op) ?? 0) + 1;
    counts.set(req.op, n);
    const fault = init.fault;
    if (fault && fault.op === req.op && fault.after === n) {
      if (fault.mode === 'exit') process.exit(3);
      throw new Error(`injected test fault in ${req.op} request ${n}`);
    }
    if (req.weightsVersion !== version) {
      readVars(vars, init.layout, weights);
      version = req.weightsVersion;
    }
    switch (req.op) {
      case 'rollout':
        return shardRollout(policy, req.rows, req.chunk, req.full);
      case 'gradients': {
        const out = shardGradients(policy, vars, req.input, req.loss, req.full);
        writeVars(out.grads, init.layout, grads, gradBase);
        tf.dispose(out.grads);
        return { logprobs: out.logprobs, vpreds: out.vpreds, entropy: out.entropy };
      }
      case 'generate':
        return policy.generate(req.prompts, { ...req.options, rng: new Rng(req.seed) });
      case 'classify':
        if (!classifier) throw new Error('classify: this worker was started without the reward model');
        return classifier.classify(req.texts);
      case 'checksum':
        return weightsChecksum(vars);
      case 'numTensors':
        return tf.memory().numTensors;
    }
  };

  // Requests are answered one at a time, in arrival order.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    queue = queue.then(async () => {
      try {
        post({ type: 'result', id: req.id, result: await handle(req) });
      } catch (err) {
        const e = err as Error;
        post({ type: 'error', id: req.id, message: e?.message ?? String(err) });
      }
    });
  });
  post({ type: 'ready' });
}

void main();
