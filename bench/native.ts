/**
 * Native matmul benchmark: model M's PPO-style train step and KV-cache sampling on the wasm backend with the js
 * matmul (SIMD GEMM) and the native one (OpenBLAS sgemm, 1 and 2 BLAS threads), next to the PyTorch reference
 * (shared/peer/peer.py, best of 1 and 2 threads) measured in the same invocation. Variants are interleaved over
 * several rounds (the machine is shared) and each figure is the median of its rounds.
 *
 * Run: `node dist/bench/native.js` (after tsc), or `npm run bench -- native`.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { initBackend, type BackendOptions } from '../core/model/wasm/backend.js';
import { setFusedBlockEnabled } from '../core/model/fused-block.js';
import { nativeMatmulAvailable } from '../core/model/wasm/native-matmul.js';
import { benchSampling, benchTrainStep, median, runPeer } from './engine.js';

interface Variant {
  label: string;
  opts: BackendOptions;
  /** false: the composite transformer block (every product through tf.matMul, so all of them native). */
  fusedBlock: boolean;
}

/**
 * Prints model M's train step (median ms) and sampling (tok/s) for js vs native matmul beside PyTorch, with ratios.
 * @param opts.rounds interleaved rounds per variant (default 3)
 */
export async function benchNative(opts: { rounds?: number } = {}): Promise<void> {
  const rounds = opts.rounds ?? 3;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const avail = nativeMatmulAvailable();
  const variants: Variant[] = [{ label: 'js (SIMD GEMM)', opts: { matmul: 'js' }, fusedBlock: true }];
  if (avail.available) {
    variants.push(
      { label: 'native, 1 BLAS thread', opts: { matmul: 'native', blasThreads: 1 }, fusedBlock: true },
      { label: 'native, 2 BLAS threads', opts: { matmul: 'native', blasThreads: 2 }, fusedBlock: true },
      { label: 'native, 1 thread, composite block', opts: { matmul: 'native', blasThreads: 1 }, fusedBlock: false },
    );
  }
  const head = await initBackend('wasm', { matmul: 'js' });
  console.log(
    `native matmul benchmark: model M (4 layers, d 256, 8 heads, vocab 4096, batch 8 x seq 64), node ${process.version}, ` +
      `${rounds} interleaved rounds; js = ${head.matmulDescription}`,
  );
  if (!avail.available) console.log(`  native matmul unavailable (${avail.reason}): js only`);
  // Untimed warm-up: V8 optimises the JS around the kernels during the first steps.
  await benchTrainStep('S', 2, 3);
  const train = new Map<string, number[]>();
  const sample = new Map<string, number[]>();
  const described = new Map<string, string>();
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const info = await initBackend('wasm', v.opts);
      described.set(v.label, info.matmulDescription ?? '');
      const prev = setFusedBlockEnabled(v.fusedBlock);
      try {
        const t = await benchTrainStep('M', 5, 2);
        train.set(v.label, [...(train.get(v.label) ?? []), t.medianMs]);
        if (v.fusedBlock) {
          const s = await benchSampling('M', 2);
          sample.set(v.label, [...(sample.get(v.label) ?? []), s.tokensPerS]);
        }
      } finally {
        setFusedBlockEnabled(prev);
      }
    }
  }
  await initBackend('wasm');
  const peer = runPeer('M', root);
  const jsTrain = median(train.get(variants[0]!.label)!);
  const jsSample = median(sample.get(variants[0]!.label)!);
  for (const v of variants) {
    const ms = median(train.get(v.label)!);
    const tok = sample.has(v.label) ? median(sample.get(v.label)!) : undefined;
    const vsPeer = peer.trainMs ? `, ${(ms / peer.trainMs).toFixed(2)}x PyTorch's time` : '';
    const tokText =
      tok !== undefined
        ? ` | sampling ${tok.toFixed(0)} tok/s (${(tok / jsSample).toFixed(2)}x js${peer.sampleTokS ? `, ${(tok / peer.sampleTokS).toFixed(2)}x PyTorch` : ''})`
        : '';
    console.log(
      `  ${v.label.padEnd(34)}: train step ${ms.toFixed(1)} ms (${(jsTrain / ms).toFixed(2)}x js speed${vsPeer})${tokText}` +
        `  [${described.get(v.label)}; rounds ${train
          .get(v.label)!
          .map((x) => x.toFixed(0))
          .join('/')} ms]`,
    );
  }
  if (peer.trainMs)
    console.log(
      `  ${'PyTorch (best of 1, 2 threads)'.padEnd(34)}: train step ${peer.trainMs.toFixed(1)} ms | sampling ${peer.sampleTokS?.toFixed(0) ?? '?'} tok/s`,
    );
  if (peer.note) console.log(`  ${peer.note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchNative().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
