import { z } from 'zod';
import { ON_BAD_ROW } from './load-report.js';
import { SPLIT_MODES, type SplitMode } from './split.js';

/**
 * The options every file-backed dataset plugin shares (spread into its `z.object({...})`):
 * where held-out prompts come from, how many rows to use and what to do with bad rows.
 * `defaultSplit` differs per plugin (`'head'` where a study's order-based split is the reference).
 */
export function commonDatasetOptions(defaultSplit: SplitMode) {
  return {
    heldOutFraction: z.number().min(0).lt(1).default(0.2).describe('share of prompts held out for evaluation, in [0, 1) (the study: 0.2)'),
    split: z
      .enum(SPLIT_MODES)
      .default(defaultSplit)
      .describe(
        "'hash': by a seeded hash of each prompt's id or text (stable under reordering); 'head': the first (1 − heldOutFraction) train, like datasets' train_test_split(shuffle=False)",
      ),
    splitSeed: z
      .number()
      .int()
      .default(0)
      .describe("seed of the 'hash' split; separate from the experiment seed so arms with different seeds share one held-out set"),
    limit: z
      .number()
      .int()
      .min(1)
      .nullable()
      .default(null)
      .describe('keep at most this many prompts (the first ones in file order that pass the filters), before splitting; null = all'),
    onBadRow: z
      .enum(ON_BAD_ROW)
      .default('skip')
      .describe(
        "a malformed row (bad JSON, missing field, wrong type): 'skip' counts and lists it in the load report, 'fail' stops with file and line",
      ),
  };
}

/** The parsed values of {@link commonDatasetOptions}. */
export interface CommonDatasetOptions {
  heldOutFraction: number;
  split: SplitMode;
  splitSeed: number;
  limit: number | null;
  onBadRow: 'skip' | 'fail';
}
