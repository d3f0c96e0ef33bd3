import type * as tf from '@tensorflow/tfjs';

/**
 * `classifyTexts` of every sequence classifier: encodes `batchSize` texts at a time and collects the logits
 * (`[texts.length][numLabels]`), disposing each batch's tensor.
 */
export async function classifyInBatches(
  texts: readonly string[],
  batchSize: number,
  encode: (chunk: readonly string[]) => { inputIds: number[][]; attentionMask: number[][] },
  classify: (inputIds: number[][], attentionMask: number[][]) => tf.Tensor2D,
): Promise<number[][]> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`classifyTexts: batchSize must be a positive integer, got ${batchSize}`);
  const out: number[][] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    const enc = encode(texts.slice(start, start + batchSize));
    const logits = classify(enc.inputIds, enc.attentionMask); // [b, L]
    try {
      out.push(...((await logits.array()) as number[][]));
    } finally {
      logits.dispose();
    }
  }
  return out;
}
