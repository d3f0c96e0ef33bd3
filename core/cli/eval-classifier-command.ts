import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadLabelledCsv, loadToxicityLabels, splitByHash, describeCounts, type LabelledText } from '../classifier/data.js';
import { classifierReport, formatClassifierReport, type ClassifierReport } from '../classifier/metrics.js';
import { scoreTexts, ScoringInterrupted } from '../classifier/score.js';
import type { SlotConfig } from '../config/schema.js';
import { create } from '../di/container.js';
import { defaultMemoryPlan } from '../interfaces/memory.js';
import type { RewardModel } from '../interfaces/reward.js';
import { initBackend, type BackendName } from '../model/wasm/backend.js';
import type { PluginContext } from '../plugin/define.js';
import type { PluginRegistry } from '../plugin/registry.js';
import { Progress } from '../logging/progress.js';
import { asUsage, EXIT, UserError } from '../exit.js';
import { defaultPath } from '../classifier/command.js';
import { CLASSIFIER_DEFAULTS } from '../classifier/defaults.js';

/** Labels that name the non-toxic class in a classifier folder's id2label (the first found is used). */
const NEUTRAL_LABEL_NAMES = ['neutral', 'nothate', 'non-toxic', 'non_toxic', 'not_toxic', 'normal', 'clean', 'none'];

interface ClassifierDataOptions {
  /** The toxicity-labels folder (Davidson + ToxiGen). */
  labels?: string;
  /** A user's CSV file. */
  data?: string;
  textColumn?: string;
  labelColumn?: string;
  /** Validation share of each source but ToxiGen (which keeps 30%, see DEFAULT_VALIDATION_BY_SOURCE). */
  validation: number;
}

/**
 * The labelled texts a classifier command reads: the labels folder (given, or the shipped default when neither it
 * nor `--data` is given) and the user's CSV, split by text hash. Errors name the flag.
 */
async function readClassifierData(
  o: ClassifierDataOptions,
): Promise<{ items: LabelledText[]; train: LabelledText[]; validation: LabelledText[] }> {
  if (o.data && (!o.textColumn || !o.labelColumn)) {
    throw new UserError(
      `--data ${o.data}: also give --text-column <name> and --label-column <name> (the CSV's columns holding the text and its 0/1 or neutral/toxic label)`,
    );
  }
  // Without --labels and --data: the labelled data beside the checkout, when this installation has it.
  const shipped = defaultPath(CLASSIFIER_DEFAULTS.labels);
  const labels = o.labels ?? (o.data || !fs.existsSync(shipped) ? undefined : shipped);
  if (!labels && !o.data) {
    throw new UserError(
      'no labelled data: give --labels <dir> (a folder with davidson-labeled_data.csv and/or toxigen-prompts/) or --data <file.csv> --text-column <name> --label-column <name>',
    );
  }
  const items: LabelledText[] = [];
  if (labels) items.push(...(await asUsage('--labels', () => loadToxicityLabels(path.resolve(labels)))));
  if (o.data) {
    items.push(
      ...(await asUsage('--data', () =>
        loadLabelledCsv(path.resolve(o.data!), { textColumn: o.textColumn!, labelColumn: o.labelColumn! }),
      )),
    );
  }
  const split = await asUsage('--validation', () => splitByHash(items, o.validation));
  return { items, ...split };
}

interface EvalClassifierOptions extends ClassifierDataOptions {
  /** Which rows to score. */
  split: 'validation' | 'train' | 'all';
  batchSize: number;
  backend: BackendName;
  /** Write the reports as JSON here. */
  json?: string;
  signal?: AbortSignal;
}

/**
 * What a classifier argument names: a `{...}` JSON slot, a Hugging Face classifier folder (built with `hf-classifier`,
 * its neutral class found in id2label), or the name of a reward-model plugin (built with its default options).
 */
function classifierSlot(spec: string, registry: PluginRegistry): SlotConfig {
  if (spec.trimStart().startsWith('{')) {
    let slot: unknown;
    try {
      slot = JSON.parse(spec);
    } catch (err) {
      throw new UserError(
        `classifier ${spec}: not JSON (${(err as Error).message}); write a reward-model slot such as '{"type": "lexicon-toxicity"}'`,
      );
    }
    if (typeof (slot as { type?: unknown }).type !== 'string')
      throw new UserError(`classifier ${spec}: a slot needs a "type" (a reward-model plugin)`);
    return slot as SlotConfig;
  }
  const dir = path.resolve(spec);
  if (fs.existsSync(path.join(dir, 'config.json'))) {
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { id2label?: Record<string, string> };
    const labels = Object.values(config.id2label ?? {});
    const neutral = labels.find((l) => NEUTRAL_LABEL_NAMES.includes(l.toLowerCase()));
    if (!neutral) {
      throw new UserError(
        `classifier ${spec}: none of its labels (${labels.join(', ') || 'no id2label'}) names the non-toxic class (${NEUTRAL_LABEL_NAMES.join(', ')}); pass a slot instead: '{"type": "hf-classifier", "path": "${spec}", "neutralLabel": "<label>"}'`,
      );
    }
    return { type: 'hf-classifier', path: dir, neutralLabel: neutral };
  }
  if (registry.has('reward-model', spec)) return { type: spec };
  if (fs.existsSync(dir)) throw new UserError(`classifier ${spec}: ${dir} has no config.json (a Hugging Face classifier folder needs one)`);
  throw new UserError(
    `classifier ${spec}: neither a classifier folder nor a reward-model plugin; plugins: ${registry.names('reward-model').join(', ')}`,
  );
}

/**
 * `detox-lab eval-classifier`: how well each classifier separates toxic from neutral labelled text (ROC AUC,
 * accuracy, F1 per source; false positives per ToxiGen group), in one table so that classifiers can be compared —
 * a learned one against `lexicon-toxicity`, say. Returns the printed table.
 */
export async function evalClassifierCommand(specs: string[], registry: PluginRegistry, o: EvalClassifierOptions): Promise<string> {
  if (specs.length === 0)
    throw new UserError('name at least one classifier: a model folder or a reward-model plugin (e.g. lexicon-toxicity)');
  const slots = specs.map((spec) => ({ spec, slot: classifierSlot(spec, registry) }));
  const data = await readClassifierData(o);
  const items = o.split === 'all' ? data.items : data[o.split];
  if (items.length === 0) throw new UserError(`--split ${o.split}: no texts in that split`);
  const counts = describeCounts(items)
    .map((c) => `${c.source} ${c.n.toLocaleString('en-US')} (${((100 * c.toxic) / c.n).toFixed(1)}% toxic)`)
    .join(', ');
  process.stderr.write(`eval-classifier: ${o.split} split: ${counts}\n`);

  tf.env().set('PROD', true);
  try {
    await initBackend(o.backend);
  } catch (err) {
    throw new UserError(`--backend: ${(err as Error).message}`);
  }
  const ctx: PluginContext = {
    configDir: process.cwd(),
    seed: 0,
    backend: o.backend,
    trainSteps: 1,
    memoryPlan: defaultMemoryPlan(),
    log: (m) => process.stderr.write(`${m}\n`),
  };
  const rows: { name: string; spec: string; report: ClassifierReport }[] = [];
  for (const { spec, slot } of slots) {
    const model: RewardModel = await asUsage(`classifier ${spec}`, () => create(registry, 'reward-model', slot, ctx));
    try {
      const progress = new Progress(`score ${spec}`, items.length, process.stderr, { everyMs: 3000 });
      const t0 = Date.now();
      const p = await scoreTexts(
        model,
        items.map((x) => x.text),
        { batchSize: o.batchSize, signal: o.signal, onProgress: (d) => progress.update(d) },
      );
      progress.end();
      process.stderr.write(`eval-classifier: ${spec}: ${items.length} texts in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      rows.push({ name: model.name, spec, report: classifierReport(items, p) });
    } catch (err) {
      if (err instanceof ScoringInterrupted) throw new UserError('interrupted', EXIT.interrupted);
      throw err;
    } finally {
      model.dispose?.();
    }
  }
  if (o.json) {
    fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
    fs.writeFileSync(
      o.json,
      `${JSON.stringify({ split: o.split, validation: o.validation, data: describeCounts(items), classifiers: rows }, null, 2)}\n`,
    );
  }
  return formatClassifierReport(rows);
}
