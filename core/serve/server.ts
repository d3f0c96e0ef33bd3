/**
 * `detox-lab serve`'s HTTP server (fastify): the static page, the compare API (one continuation per model, scored by
 * the reward classifier and the lexicon cross-check; batches with `detox-lab eval`'s figures) and the run browser API.
 * Each model generates one request at a time (a FIFO queue whose positions the page polls); a failing request
 * answers 500 and the server goes on; bad input answers 400 naming the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { EvalConfig } from '../config/schema.js';
import { evalCsv, type EvalRow } from '../eval/csv.js';
import { evaluate, type EvalSample } from '../eval/evaluate.js';
import type { Policy } from '../interfaces/policy.js';
import { toxicProbability, type RewardModel } from '../interfaces/reward.js';
import { Rng } from '../util/rng.js';
import { ModelQueue } from './queue.js';
import { batchBody, generateBody, parseRequest, RequestError, samplesQuery } from './requests.js';
import { armSamples, experimentView, listExperiments } from './runs.js';

/** A classifier that can say which terms of a text made its score (the lexicon classifier's `explain`). */
interface Explainer {
  explain(text: string): { probability: number; hits: { term: string; tier: string; start: number; end: number }[] };
}
const canExplain = (m: unknown): m is Explainer => typeof (m as Partial<Explainer> | undefined)?.explain === 'function';

/** A model the page can compare. */
export interface ServedModel {
  /** Short name shown in the page (`base`, `detox`). */
  name: string;
  /** Where it was loaded from ("initial" or a folder). */
  source: string;
  policy: Policy;
}

interface ServeOptions {
  models: ServedModel[];
  /** The reward classifier (its P(toxic) is the score shown). */
  classifier: RewardModel;
  /** The lexicon classifier for the cross-check and the highlighted terms (the classifier itself when it explains). */
  lexicon?: RewardModel;
  /** The judge of fluency (perplexity) in batches: the experiment's initial policy, as in `detox-lab eval`. */
  fluency: Policy;
  /** Prompts the page offers and batches draw from (first N). */
  prompts: string[];
  /** Where they come from, for the page ("held-out split of tiny", "prompts.txt"). */
  promptSource: string;
  /** The experiment's eval settings: defaults of the sampling fields, and the protocol of batches. */
  evalCfg: EvalConfig;
  /** The runs folder the run browser lists (none: the run browser says so). */
  runsRoot?: string;
  /** Experiment and arm the run browser opens first. */
  openRun?: { experiment: string; arm: string };
  /** Request log lines (off by default). */
  logRequests?: boolean;
}

/** The page's files: core/serve/static, next to this module's source (dist/core/serve → core/serve/static). */
const STATIC_DIR = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'static'), path.resolve(here, '../../../core/serve/static')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[1]!;
})();

/**
 * Builds the server (not yet listening). Closing it rejects the queued requests with 503; a running generation
 * finishes, a running batch stops after its current generation batch (503).
 */
export async function buildServer(o: ServeOptions): Promise<FastifyInstance> {
  if (o.models.length === 0) throw new Error('serve: no model to serve');
  const models = new Map(o.models.map((m) => [m.name, { ...m, queue: new ModelQueue() }]));
  const explainer = canExplain(o.classifier) ? o.classifier : canExplain(o.lexicon) ? o.lexicon : undefined;
  const app = Fastify({ logger: o.logRequests ? { level: 'info' } : false, bodyLimit: 256 * 1024, forceCloseConnections: 'idle' });
  let closing = false;

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof RequestError) return reply.code(err.status).send({ error: err.message });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    if (closing) return reply.code(503).send({ error: 'the server is shutting down' });
    process.stderr.write(`serve: ${req.method} ${req.url} failed: ${err.message}\n`);
    return reply.code(500).send({ error: `the model failed on this request: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such page or API: ${req.method} ${req.url}` }));
  // While closing, every answer closes its connection: a keep-alive socket that turns idle after close() began
  // would otherwise hold the server open for the keep-alive timeout.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  const stop = new AbortController(); // a running batch stops at its next generation batch
  app.addHook('preClose', async () => {
    closing = true;
    stop.abort();
    for (const m of models.values()) m.queue.drain(new RequestError('the server is shutting down', 503));
  });

  const modelOf = (name: string, field: string) => {
    const m = models.get(name);
    if (!m) throw new RequestError(`${field}: got ${JSON.stringify(name)}; expected one of ${[...models.keys()].join(', ')}`);
    return m;
  };
  const checkRoom = (maxNewTokens: number, ms: Iterable<ServedModel>) => {
    for (const m of ms) {
      if (maxNewTokens >= m.policy.contextLength) {
        throw new RequestError(
          `maxNewTokens: got ${maxNewTokens}; expected an integer from 1 to ${m.policy.contextLength - 1} (model ${m.name} has a context of ${m.policy.contextLength} tokens)`,
        );
      }
    }
  };
  const settings = (b: { temperature?: number; topK?: number; topP?: number; maxNewTokens?: number; seed?: number }) => ({
    temperature: b.temperature ?? o.evalCfg.temperature,
    topK: b.topK ?? o.evalCfg.topK,
    topP: b.topP ?? o.evalCfg.topP,
    maxNewTokens: b.maxNewTokens ?? o.evalCfg.maxNewTokens,
    seed: b.seed ?? o.evalCfg.seed,
  });
  let tickets = 0;
  const rel = o.runsRoot ? path.relative(process.cwd(), o.runsRoot) : undefined;
  const runsLabel = o.runsRoot ? (rel!.startsWith('..') || path.isAbsolute(rel!) ? o.runsRoot : rel || '.') : null;

  app.get('/api/info', async () => ({
    models: [...models.values()].map((m) => ({ name: m.name, source: m.source, contextLength: m.policy.contextLength })),
    classifier: { name: o.classifier.name, labels: o.classifier.labels, explains: canExplain(o.classifier) },
    lexicon: o.lexicon && o.lexicon !== o.classifier ? o.lexicon.name : null,
    prompts: o.prompts,
    promptSource: o.promptSource,
    defaults: settings({}),
    runs: { root: runsLabel, open: o.openRun ?? null },
  }));

  app.post('/api/generate', async (req) => {
    const b = parseRequest(generateBody, req.body, 'body');
    const m = modelOf(b.model, 'model');
    const s = settings(b);
    checkRoom(s.maxNewTokens, [m]);
    const t0 = Date.now();
    return m.queue.run(b.ticket ?? `t${++tickets}`, async () => {
      const started = Date.now();
      const tok = m.policy.tokenizer;
      const all = tok.encode(b.prompt);
      const ids = all.slice(0, m.policy.contextLength - s.maxNewTokens); // keep the beginning, as the evaluation does
      if (ids.length === 0) throw new RequestError(`prompt: got ${JSON.stringify(b.prompt.slice(0, 40))}; it encodes to no token`);
      const [response] = await m.policy.generate([ids], {
        maxNewTokens: s.maxNewTokens,
        topK: s.topK,
        topP: s.topP,
        temperature: s.temperature,
        rng: new Rng(s.seed),
      });
      const continuation = tok.decode(response!, { skipSpecialTokens: true });
      const [logits] = await o.classifier.classify([continuation]);
      const lexicon = explainer?.explain(continuation);
      return {
        model: m.name,
        prompt: ids.length < all.length ? tok.decode(ids) : b.prompt,
        promptTruncated: ids.length < all.length,
        continuation,
        tokens: response!.length,
        toxicity: toxicProbability(logits!, o.classifier.neutralIndex),
        lexicon: lexicon
          ? { probability: lexicon.probability, hits: lexicon.hits.map(({ term, tier, start, end }) => ({ term, tier, start, end })) }
          : null,
        explainedBy: explainer === o.classifier ? 'classifier' : explainer ? 'lexicon' : null,
        settings: s,
        waitMs: started - t0,
        genMs: Date.now() - started,
      };
    });
  });

  app.get('/api/queue', async (req) => {
    const q = req.query as { ticket?: unknown };
    const ticket = typeof q.ticket === 'string' ? q.ticket : undefined;
    return {
      models: Object.fromEntries(
        [...models.values()].map((m) => [m.name, { length: m.queue.length, position: ticket ? m.queue.position(ticket) : null }]),
      ),
    };
  });

  app.post('/api/batch', async (req, reply) => {
    const b = parseRequest(batchBody, req.body, 'body');
    if (b.prompts > o.prompts.length)
      throw new RequestError(
        `prompts: got ${b.prompts}; expected an integer from 1 to ${o.prompts.length} (the prompts of ${o.promptSource})`,
      );
    const chosen = (b.models ?? [...models.keys()]).map((n, i) => modelOf(n, `models[${i}]`));
    const s = settings(b);
    checkRoom(s.maxNewTokens, chosen);
    const cfg: EvalConfig = { ...o.evalCfg, ...s, maxPrompts: b.prompts };
    const rows: EvalRow[] = [];
    const samples: Record<string, EvalSample[]> = {};
    const ticket = b.ticket ?? `t${++tickets}`;
    for (const m of chosen) {
      const r = await m.queue.run(ticket, () =>
        evaluate({
          policy: m.policy,
          classifier: o.classifier,
          prompts: o.prompts,
          cfg,
          signal: stop.signal,
          fluency: (ids, mask) => o.fluency.forward(ids, mask, 'policy').logits,
        }),
      );
      const { samples: ms, ...figures } = r;
      rows.push({ model: m.name, result: figures });
      samples[m.name] = ms;
    }
    if (b.format === 'csv') {
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="serve-batch.csv"')
        .send(evalCsv(rows));
    }
    return { settings: { ...s, prompts: b.prompts, samplesPerPrompt: cfg.samplesPerPrompt, batchSize: cfg.batchSize }, rows, samples };
  });

  const root = () => {
    if (!o.runsRoot)
      throw new RequestError('no runs folder: start detox-lab serve with --runs-dir <dir> or --run <runs/experiment/arm>', 404);
    return o.runsRoot;
  };
  app.get('/api/runs', async () => ({
    root: runsLabel,
    open: o.openRun ?? null,
    experiments: o.runsRoot ? listExperiments(o.runsRoot) : [],
  }));
  app.get('/api/runs/:experiment', async (req) => {
    const { experiment } = req.params as { experiment: string };
    try {
      return experimentView(root(), experiment);
    } catch (err) {
      if (err instanceof RequestError) throw err;
      throw new RequestError(`experiment ${JSON.stringify(experiment)}: ${(err as Error).message}`, 404);
    }
  });
  app.get('/api/runs/:experiment/:arm/samples', async (req) => {
    const { experiment, arm } = req.params as { experiment: string; arm: string };
    return armSamples(root(), experiment, arm, parseRequest(samplesQuery, req.query, 'query'));
  });

  await app.register(fastifyStatic, { root: STATIC_DIR, prefix: '/', index: 'index.html' });
  return app;
}
