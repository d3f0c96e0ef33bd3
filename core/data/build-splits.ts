import type { DatasetSplits, PromptRecord } from '../interfaces/dataset.js';
import type { CommonDatasetOptions } from './dataset-options.js';
import { describeReport, type LoadReportBuilder } from './load-report.js';
import { splitItems } from './split.js';
import { InputError } from '../errors.js';

/** A prompt and the key its hash split uses (the source's own id when it has one, else the text). */
export interface KeyedPrompt {
  record: PromptRecord;
  splitKey: string;
}

export interface BuildSplitsContext {
  /** Who is loading, for errors, e.g. `"data.dataset (real-toxicity-prompts)"`. */
  who: string;
  /** The filters applied, for the empty-result error, e.g. `"prompt.toxicity > 0.3"`. */
  filter: string;
  /** Hint appended to the empty-result error (which option to change). */
  hint?: string;
}

/**
 * Splits the kept prompts into train and held-out by the dataset's options and attaches the
 * load report. Errors, naming the filter, the option and the counts, when no prompt was kept
 * or when the split leaves nothing to train on.
 */
export function buildSplits(
  prompts: readonly KeyedPrompt[],
  report: LoadReportBuilder,
  options: Pick<CommonDatasetOptions, 'heldOutFraction' | 'split' | 'splitSeed'>,
  ctx: BuildSplitsContext,
): DatasetSplits {
  const built = report.build();
  if (prompts.length === 0) {
    throw new InputError(
      `${ctx.who}: no prompts left in ${built.source} after filtering (${ctx.filter}): ${describeReport(built)}` +
        (built.problems.length ? `; first problems: ${built.problems.slice(0, 3).join(' | ')}` : '') +
        (ctx.hint ? `. ${ctx.hint}` : ''),
    );
  }
  const { train, heldOut } = splitItems(prompts, {
    mode: options.split,
    heldOutFraction: options.heldOutFraction,
    seed: options.splitSeed,
    keyOf: (p) => p.splitKey,
  });
  if (train.length === 0) {
    throw new InputError(
      `${ctx.who}: the train split is empty: all ${prompts.length} kept prompt(s) went to held-out ` +
        `(heldOutFraction ${options.heldOutFraction}, split '${options.split}'); lower heldOutFraction or provide more prompts`,
    );
  }
  return { train: train.map((p) => p.record), heldOut: heldOut.map((p) => p.record), report: built };
}
