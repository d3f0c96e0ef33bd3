import path from 'node:path';
import { z } from 'zod';
import {
  definePlugin,
  buildSplits,
  commonDatasetOptions,
  readJsonl,
  describeReport,
  LoadReportBuilder,
  assertReadableFile,
  jsonType,
  type Dataset,
  type DatasetSplits,
  type KeyedPrompt,
} from '../../core/index.js';

const NAME = 'real-toxicity-prompts';
const WHO = `data.dataset (${NAME})`;
const PATH_FIELD = 'data.dataset.path';

const options = z.object({
  path: z.string().min(1).describe('RealToxicityPrompts JSONL (prompts.jsonl, optionally .gz), relative to the project root'),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.3)
    .describe('keep rows with prompt.toxicity > threshold (the study: 0.3); rows with null/missing toxicity are dropped and counted'),
  withContinuation: z
    .boolean()
    .default(false)
    .describe(
      "prompt text + continuation text, as the study's script tokenised them before cutting to promptTokens; false = the prompt alone",
    ),
  ...commonDatasetOptions('head'),
});

type RealToxicityPromptsOptions = z.output<typeof options>;

/**
 * `"dataset": { "type": "real-toxicity-prompts", "path": "prompts.jsonl" }` — the
 * RealToxicityPrompts corpus (Gehman et al. 2020), one JSON object per line:
 * `{"filename", "begin", "end", "challenging", "prompt": {"text", "toxicity", "profanity", ...},
 * "continuation": {"text", ...}}`.
 *
 * Matches the study's data step (TRL's gpt-j-6b-toxicity.py) by default: keep
 * `prompt.toxicity > 0.3` (rows whose toxicity is null or missing are dropped, counted under
 * `"missing prompt.toxicity"`), then the first 80% train (`split: 'head'`,
 * `heldOutFraction: 0.2`, i.e. `train_test_split(test_size=0.2, shuffle=False)`). The study's
 * script concatenated prompt and continuation text before cutting to tokens; `withContinuation:
 * true` reproduces that (the prompt may then contain part of the human continuation), the default
 * `false` uses the prompt alone as RealToxicityPrompts intends.
 *
 * Each prompt's id is `<filename>#<begin>-<end>` (the corpus' own key; `<file>:<line>` when
 * absent), which also keys the `'hash'` split. `meta` keeps the line, the prompt's Perspective
 * scores, `challenging`, and the continuation text when it is not part of the prompt.
 * Bad rows (malformed JSON, missing or non-string `prompt.text`, non-numeric toxicity) follow
 * `onBadRow`.
 */
export default definePlugin({
  kind: 'dataset',
  name: NAME,
  description: "RealToxicityPrompts JSONL filtered by prompt toxicity, with the study's 80/20 split",
  options,
  create(opts, ctx): Dataset {
    const file = path.resolve(ctx.configDir, opts.path);
    assertReadableFile(file, { field: PATH_FIELD, given: opts.path });
    return {
      name: NAME,
      async load(): Promise<DatasetSplits> {
        const splits = await loadRealToxicityPrompts(file, opts);
        ctx.log(`${NAME}: ${describeReport(splits.report)}; train ${splits.train.length}, held-out ${splits.heldOut.length}`);
        return splits;
      },
    };
  },
});

/** Reads, filters and splits a RealToxicityPrompts file (what the plugin's `load()` does). */
async function loadRealToxicityPrompts(file: string, opts: RealToxicityPromptsOptions): Promise<DatasetSplits> {
  const report = new LoadReportBuilder(file, opts.onBadRow);
  const kept: KeyedPrompt[] = [];
  const belowReason = `prompt.toxicity <= ${opts.threshold}`;
  for await (const { line, value } of readJsonl(file, report, { field: PATH_FIELD, given: opts.path })) {
    const row = asObject(value);
    if (!row) {
      report.bad(line, 'row is not a JSON object', `got ${jsonType(value)}`);
      continue;
    }
    const prompt = asObject(row.prompt);
    if (!prompt) {
      report.bad(
        line,
        row.prompt === undefined ? 'missing prompt' : 'prompt is not an object',
        row.prompt === undefined ? undefined : `got ${jsonType(row.prompt)}`,
      );
      continue;
    }
    if (typeof prompt.text !== 'string') {
      report.bad(
        line,
        prompt.text === undefined ? 'missing prompt.text' : 'prompt.text is not a string',
        prompt.text === undefined ? undefined : `got ${jsonType(prompt.text)}`,
      );
      continue;
    }
    const toxicity = prompt.toxicity;
    if (toxicity !== undefined && toxicity !== null && typeof toxicity !== 'number') {
      report.bad(line, 'prompt.toxicity is not a number', `got ${jsonType(toxicity)}`);
      continue;
    }
    const continuation = asObject(row.continuation);
    const continuationText = continuation && typeof continuation.text === 'string' ? continuation.text : undefined;
    if (opts.withContinuation && continuationText === undefined) {
      report.bad(line, 'missing continuation.text', 'withContinuation is true');
      continue;
    }
    if (toxicity === undefined || toxicity === null) {
      report.filtered('missing prompt.toxicity');
      continue;
    }
    if (!(toxicity > opts.threshold)) {
      report.filtered(belowReason);
      continue;
    }
    const text = opts.withContinuation ? prompt.text + continuationText! : prompt.text;
    if (text.trim() === '') {
      report.filtered('empty text');
      continue;
    }
    const ownId = typeof row.filename === 'string' ? `${row.filename}#${String(row.begin)}-${String(row.end)}` : undefined;
    const scores: Record<string, number> = {};
    for (const [k, v] of Object.entries(prompt)) if (typeof v === 'number') scores[k] = v;
    const meta: Record<string, unknown> = { line, ...scores };
    if (typeof row.challenging === 'boolean') meta.challenging = row.challenging;
    if (!opts.withContinuation && continuationText !== undefined) meta.continuation = continuationText;
    report.keep();
    kept.push({
      record: { text, id: ownId ?? `${path.basename(file)}:${line}`, meta },
      splitKey: ownId ?? text,
    });
    if (opts.limit !== null && kept.length >= opts.limit) break;
  }
  return buildSplits(kept, report, opts, {
    who: WHO,
    filter: `keep prompt.toxicity > ${opts.threshold}`,
    hint: `lower threshold (now ${opts.threshold}) or check the file is RealToxicityPrompts JSONL`,
  });
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
