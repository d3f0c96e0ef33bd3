/**
 * Memory estimate of a PPO training mini-batch step from the model's shape alone (config.json; no weights), for a
 * memory plan: policy, reference, value head, optimiser state, gradients and activations. The activation model
 * follows what the engine keeps alive: per block the fused block's saved tensors (or only its input with
 * checkpointing, plus one block's worth while it is recomputed), and the loss head: one chunk of logits with the lean
 * head, or the trainer's full [tokens, vocab] path. Constants were fitted to bench/memory.ts's measurements.
 */
import type { TransformerConfig } from '../model/arch/hf-config.js';
import { sharedWeightNames, weightSpecs } from '../model/arch/weight-names.js';
import { defaultMemoryPlan, type MemoryPlan } from '../interfaces/memory.js';
import { DEFAULT_HEAD_CHUNK_ROWS } from '../model/memory/loss-head.js';

/** Byte figures of one estimate. */
export interface MemoryEstimate {
  /** Policy weights (float32 variables, shared part included), value head excluded. */
  policyBytes: number;
  /** The reference's own weights: float32 on the backend, or packed bfloat16 on the host. */
  referenceBytes: number;
  /** Where the reference's weights live. */
  referenceOnHost: boolean;
  valueHeadBytes: number;
  /** Optimiser state (Adam: two float32 moments per trainable weight). */
  optimiserBytes: number;
  /** Gradients of the trainable weights. */
  gradientBytes: number;
  /** Activations kept for the backward pass of one mini-batch, loss head included. */
  activationBytes: number;
  /** Of which the loss head's logits. */
  lossHeadBytes: number;
  /** Everything on the backend (what the wasm heap must hold). */
  backendBytes: number;
  /** Everything (backend + host-packed weights). */
  totalBytes: number;
}

/** Shape of the work: mini-batch rows and tokens per row. */
interface WorkShape {
  miniBatchSize: number;
  seqLen: number;
  /**
   * The chunked loss head (the trainer's path unless ppo.klPenalty is 'full'): only a chunk of logits at a time.
   * Default true.
   */
  leanHead?: boolean;
  /** Float32 moment tensors per trainable weight (Adam/AdamW: 2; SGD: 0). Default 2. */
  optimiserSlots?: number;
}

/** The wasm backend's heap limit (32-bit addresses). */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/** Estimates the memory of a training mini-batch step. */
export function estimateMemory(cfg: TransformerConfig, work: WorkShape, plan: MemoryPlan = defaultMemoryPlan()): MemoryEstimate {
  const specs = weightSpecs(cfg);
  const size = (s: { shape: number[] }) => s.shape.reduce((a, b) => a * b, 1);
  const isVHead = (k: string) => k === 'vhead_weight' || k === 'vhead_bias';
  const n = plan.numSharedLayers;
  const sharedNames = n === null ? new Set<string>() : sharedWeightNames(cfg, n);
  const isShared = (s: { name: string }) => sharedNames.has(s.name);
  let policy = 0;
  let vhead = 0;
  let shared = 0;
  for (const s of specs) {
    if (isVHead(s.kind)) vhead += size(s);
    else policy += size(s);
    if (isShared(s)) shared += size(s);
  }
  const total = policy + vhead;
  const trainable = total - shared;
  const refElems = total - shared;
  const referenceOnHost = plan.frozenStorage === 'bfloat16';
  const referenceBytes = refElems * (referenceOnHost ? 2 : 4);
  const slots = work.optimiserSlots ?? 2;
  const N = work.miniBatchSize * work.seqLen;
  const d = cfg.dModel;
  const ff = cfg.dInner;
  // Saved tensors of a fused block, ×1.5 for the transients of its forward and backward (measured, bench/memory.ts).
  const block = 1.5 * 4 * (N * (7 * d + 2 * ff + 4) + work.miniBatchSize * cfg.nHeads * work.seqLen * work.seqLen);
  const blocks = plan.checkpointBlocks ? cfg.nLayers * 4 * N * d + block : cfg.nLayers * block;
  const lossHeadBytes =
    (work.leanHead ?? true)
      ? 4 * 6 * Math.min(N, DEFAULT_HEAD_CHUNK_ROWS) * cfg.vocabSize // one chunk's logits, softmax, products and gradient
      : // The trainer's full path: logits, their slice, log-softmax, one-hot (int and float), products, softmax and
        // logsumexp of the entropy, and the gradients of each: ~20 [tokens, vocab] tensors (measured, bench/memory.ts).
        4 * 20 * N * cfg.vocabSize;
  // The token embedding's gradient arrives twice (lookup and tied head) before it is summed.
  const embeddingGrad = n === null ? 2 * 4 * cfg.vocabSize * cfg.dEmbed : 0;
  const activationBytes = blocks + 4 * N * d * 3 + lossHeadBytes + embeddingGrad;
  const est = {
    policyBytes: policy * 4,
    referenceBytes,
    referenceOnHost,
    valueHeadBytes: vhead * 4,
    optimiserBytes: slots * trainable * 4,
    gradientBytes: trainable * 4,
    activationBytes,
    lossHeadBytes,
  };
  const backendBytes =
    est.policyBytes +
    est.valueHeadBytes +
    est.optimiserBytes +
    est.gradientBytes +
    activationBytes +
    (referenceOnHost ? 0 : referenceBytes);
  return { ...est, backendBytes, totalBytes: backendBytes + (referenceOnHost ? referenceBytes : 0) };
}

/** The memory strategies as plans: none, each alone, and all three (shared-layers sharing half the blocks). */
export function strategyPlans(cfg: TransformerConfig): { name: string; plan: MemoryPlan }[] {
  const half = Math.max(0, Math.min(cfg.nLayers - 1, Math.floor(cfg.nLayers / 2)));
  const mk = (p: Partial<MemoryPlan>): MemoryPlan => ({ ...defaultMemoryPlan(), ...p });
  return [
    { name: 'none', plan: mk({}) },
    { name: `shared-layers(${half})`, plan: mk({ numSharedLayers: half }) },
    { name: 'bf16', plan: mk({ frozenStorage: 'bfloat16', roundTrainableToBf16: true }) },
    { name: 'checkpointing', plan: mk({ checkpointBlocks: true }) },
    {
      name: 'all three',
      plan: mk({ numSharedLayers: half, frozenStorage: 'bfloat16', roundTrainableToBf16: true, checkpointBlocks: true }),
    },
  ];
}

/** Parses a byte size: 4GiB, 512MiB, 1.5GB, 1e9. */
export function parseBytes(text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?\s*$/i.exec(text);
  if (!m) throw new Error(`--budget: expected a size like 4GiB, 512MiB or 2GB, got ${JSON.stringify(text)}`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult: Record<string, number> = {
    b: 1,
    kb: 1e3,
    kib: 2 ** 10,
    mb: 1e6,
    mib: 2 ** 20,
    gb: 1e9,
    gib: 2 ** 30,
    tb: 1e12,
    tib: 2 ** 40,
  };
  return Number(m[1]) * mult[unit]!;
}

/** A byte count for people (MiB / GiB). */
export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}
