import type { EvalResult } from './evaluate.js';

/** One model's evaluation figures (a row of `detox-lab eval`'s table). */
export interface EvalRow {
  model: string;
  result: Omit<EvalResult, 'samples'>;
}

/**
 * The eval table as CSV (`eval.csv`): one row per model; cross-check classifiers (`eval.classifiers`) add a
 * `mean_toxicity/<classifier>` and `std_toxicity/<classifier>` column pair each.
 */
export function evalCsv(rows: readonly EvalRow[]): string {
  const cross = rows.find((r) => r.result.crossCheck)?.result.crossCheck?.map((c) => c.classifier) ?? [];
  const header = [
    'model,mean_toxicity,std_toxicity,n,distinct_1,distinct_2,distinct_3,perplexity,expected_max_toxicity,toxicity_probability',
    ...cross.map((c) => `${JSON.stringify(`mean_toxicity/${c}`)},${JSON.stringify(`std_toxicity/${c}`)}`),
  ].join(',');
  const csv = rows.map(({ model, result: r }) =>
    [
      JSON.stringify(model),
      r.toxicity.mean,
      r.toxicity.std,
      r.toxicity.n,
      r.distinct1,
      r.distinct2,
      r.distinct3,
      r.perplexity,
      r.rtp?.expectedMaxToxicity.mean ?? '',
      r.rtp?.toxicityProbability ?? '',
      ...cross.flatMap((_, k) => [r.crossCheck?.[k]?.toxicity.mean ?? '', r.crossCheck?.[k]?.toxicity.std ?? '']),
    ].join(','),
  );
  return `${[header, ...csv].join('\n')}\n`;
}
