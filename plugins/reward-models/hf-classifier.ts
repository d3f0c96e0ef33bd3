import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { definePlugin, loadSequenceClassifier } from '../../core/index.js';

/**
 * `"model": { "type": "hf-classifier", "path": "models/roberta-hate-speech-dynabench-r4-target" }` —
 * a Hugging Face RobertaForSequenceClassification folder (the study's reward model). Scores the
 * response text alone; `neutralLabel` names the non-toxic class in the folder's `id2label`.
 */
export default definePlugin({
  kind: 'reward-model',
  name: 'hf-classifier',
  description: 'a RoBERTa sequence classifier from a Hugging Face folder (the study: facebook/roberta-hate-speech-dynabench-r4-target)',
  options: z.object({
    path: z.string().min(1).describe('classifier folder (config.json, model.safetensors, tokenizer.json), relative to the project root'),
    neutralLabel: z.string().default('nothate').describe("the id2label name of the non-toxic class (the study's reward reads its logit)"),
    maxLength: z
      .number()
      .int()
      .min(3)
      .nullable()
      .default(null)
      .describe("tokens per text incl. <s> and </s>; longer responses are truncated; null = the model's limit"),
    batchSize: z.number().int().min(1).default(16).describe('texts per forward pass'),
  }),
  create: async (o, ctx) => {
    const dir = path.resolve(ctx.configDir, o.path);
    if (!fs.existsSync(dir)) throw new Error(`reward.model.path: no classifier folder at ${dir}`);
    const cls = await loadSequenceClassifier(dir);
    const neutralIndex = cls.labels.indexOf(o.neutralLabel);
    if (neutralIndex < 0) {
      cls.dispose();
      throw new Error(`reward.model.neutralLabel: "${o.neutralLabel}" is not a label of ${dir}; its labels: ${cls.labels.join(', ')}`);
    }
    if (!cls.tokenizer) {
      cls.dispose();
      throw new Error(`reward.model.path: ${dir} has no tokenizer.json; the classifier scores text, so it needs one`);
    }
    return {
      name: `hf-classifier:${path.basename(dir)}`,
      labels: cls.labels,
      neutralIndex,
      scoresOnWorkers: true,
      classify: (texts: string[]) =>
        cls.classifyTexts(texts, { ...(o.maxLength === null ? {} : { maxLength: o.maxLength }), batchSize: o.batchSize }),
      dispose: () => cls.dispose(),
    };
  },
});
