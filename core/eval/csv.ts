import type { EvalResult } from './evaluate.js';

/** One model's evaluation figures (a row of `detox-lab eval`'s table). */
export interface EvalRow { model: string; result: Omit<EvalResult, 'samples'> }

/** The eval table as CSV (`eval.csv`): one row per model. */
export function evalCsv(rows: readonly EvalRow[]): string {
  const header = 'model,mean_toxicity,std_toxicity,n,distinct_1,distinct_2,distinct_3,perplexity,expected_max_toxicity,toxicity_probability';
  const csv = rows.map(({ model, result: r }) => [
    JSON.stringify(model), r.toxicity.mean, r.toxicity.std, r.toxicity.n, r.distinct1, r.distinct2, r.distinct3, r.perplexity,
    r.rtp?.expectedMaxToxicity.mean ?? '', r.rtp?.toxicityProbability ?? '',
  ].join(','));
  return `${[header, ...csv].join('\n')}\n`;
}
