/**
 * `detox-lab serve`: loads the experiment's classifier, initial policy and prompts (as `detox-lab eval` does) plus the
 * models to compare, and serves the compare page and the run browser until Ctrl-C.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { PreparedExperiment } from '../config/prepare.js';
import { runDirOf } from '../config/prepare.js';
import type { SlotConfig } from '../config/schema.js';
import { create } from '../di/container.js';
import type { RewardModel } from '../interfaces/reward.js';
import { buildServer, type ServedModel } from '../serve/server.js';
import { EXIT, UserError } from '../exit.js';
import { loadEvalSetup } from './eval-command.js';

export interface ServeCommandOptions {
  /** `name=<dir|initial>` or `<dir|initial>`, in column order. */
  model: string[];
  run?: string;
  runsDir?: string;
  prompts?: string;
  port: number;
  host: string;
  log: boolean;
}

const NAME = /^[A-Za-z0-9._-]{1,32}$/;

/** `name=source` specs → names and sources, defaulting names to "base" for "initial" and the folder's name otherwise. */
function parseModelSpecs(specs: readonly string[]): { name: string; source: string }[] {
  const out = specs.map((spec) => {
    const eq = spec.indexOf('=');
    const source = eq >= 0 ? spec.slice(eq + 1) : spec;
    let name = eq >= 0 ? spec.slice(0, eq) : source === 'initial' ? 'base' : path.basename(path.resolve(source));
    if (!source) throw new UserError(`--model ${JSON.stringify(spec)}: expected name=<dir|initial> or <dir|initial>`);
    if (eq < 0 && name === 'policy') name = path.basename(path.dirname(path.resolve(source))); // checkpoints/step-N/policy → step-N
    if (!NAME.test(name))
      throw new UserError(
        `--model ${JSON.stringify(spec)}: the name ${JSON.stringify(name)} must be 1–32 letters, digits, ".", "_" or "-"`,
      );
    return { name, source };
  });
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.name))
      throw new UserError(
        `--model: the name ${JSON.stringify(m.name)} is used twice; name them, e.g. --model base=initial --model detox=<dir>`,
      );
    seen.add(m.name);
  }
  return out;
}

/** The policy of a run's latest checkpoint (checkpoints/step-N/policy with the largest N), if any. */
function latestCheckpoint(runDir: string): string | undefined {
  const dir = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(dir)) return undefined;
  const steps = fs
    .readdirSync(dir)
    .map((d) => /^step-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  const found = steps.map((s) => path.join(dir, `step-${s}`, 'policy')).find((p) => fs.existsSync(path.join(p, 'config.json')));
  return found;
}

/** A listening server and how to stop it (closing also frees the models). */
export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Loads the models and starts listening (port 0 = any free port). */
export async function startServe(prepared: PreparedExperiment, o: ServeCommandOptions): Promise<RunningServer> {
  const runDir = o.run ? path.resolve(o.run) : undefined;
  if (runDir && !fs.existsSync(path.join(runDir, 'resolved-config.json')) && !fs.existsSync(path.join(runDir, 'summary.json'))) {
    throw new UserError(`--run ${o.run}: not a run folder (expected runs/<experiment>/<arm> with resolved-config.json or summary.json)`);
  }
  const specs = o.model.length
    ? parseModelSpecs(o.model)
    : [
        { name: 'base', source: 'initial' },
        ...(runDir && latestCheckpoint(runDir) ? [{ name: 'detox', source: path.relative(process.cwd(), latestCheckpoint(runDir)!) }] : []),
      ];
  for (const s of specs) {
    if (s.source !== 'initial' && !fs.existsSync(path.join(path.resolve(s.source), 'config.json'))) {
      throw new UserError(
        `--model ${s.name}=${s.source}: not a model folder (no config.json in ${path.resolve(s.source)}; give a folder like runs/<experiment>/<arm>/checkpoints/step-N/policy, or "initial")`,
      );
    }
  }
  const runsRoot = o.runsDir
    ? path.resolve(o.runsDir)
    : runDir
      ? path.dirname(path.dirname(runDir))
      : path.dirname(path.dirname(runDirOf(prepared)));
  if (o.runsDir && !fs.existsSync(runsRoot)) throw new UserError(`--runs-dir ${o.runsDir}: no such folder`);

  const setup = await loadEvalSetup(prepared, { prompts: o.prompts });
  const models: ServedModel[] = [];
  for (const s of specs) models.push({ name: s.name, source: s.source, policy: await setup.policy(s.source) });
  let lexicon: RewardModel | undefined;
  if (setup.classifier.name !== 'lexicon-toxicity' && prepared.registry.has('reward-model', 'lexicon-toxicity')) {
    lexicon = await create(prepared.registry, 'reward-model', { type: 'lexicon-toxicity' } as SlotConfig, setup.ctx);
  }
  const dispose = () => {
    for (const m of models) if (m.policy !== setup.initial) m.policy.dispose();
    lexicon?.dispose?.();
    setup.dispose();
  };

  const app = await buildServer({
    models,
    classifier: setup.classifier,
    lexicon,
    fluency: setup.initial,
    prompts: setup.prompts,
    promptSource: o.prompts ? path.basename(o.prompts) : `the held-out split of ${prepared.config.experiment}`,
    evalCfg: prepared.config.eval,
    runsRoot,
    logRequests: o.log,
    openRun: runDir ? { experiment: path.basename(path.dirname(runDir)), arm: path.basename(runDir) } : undefined,
  });
  try {
    await app.listen({ port: o.port, host: o.host });
  } catch (err) {
    dispose();
    const e = err as NodeJS.ErrnoException;
    throw new UserError(
      `--host ${o.host} --port ${o.port}: cannot listen (${e.code ?? e.message})${e.code === 'EADDRINUSE' ? '; pick another --port' : ''}`,
      EXIT.failure,
    );
  }
  const addr = app.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : o.port;
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  process.stderr.write(
    `serving ${models.map((m) => `${m.name} (${m.source})`).join(', ')}; classifier ${setup.classifier.name}; ` +
      `${setup.prompts.length} prompts; runs from ${path.relative(process.cwd(), runsRoot) || '.'}\n`,
  );
  let closed: Promise<void> | undefined;
  return {
    app,
    url: `http://${shown}:${port}/`,
    close: () => (closed ??= app.close().then(dispose)),
  };
}

/**
 * `detox-lab serve`: starts the server and resolves with the exit code once it has closed: 0 after Ctrl-C / SIGTERM
 * (running generations finish, queued ones get 503), 130 when a second signal forces it.
 */
export async function serveCommand(prepared: PreparedExperiment, o: ServeCommandOptions): Promise<number> {
  const server = await startServe(prepared, o);
  process.stdout.write(`detox-lab serve: listening on ${server.url} (Ctrl-C to stop)\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${sig}: quitting now\n`);
        process.exit(EXIT.interrupted);
      }
      stopping = true;
      process.stderr.write(`\n${sig}: closing the server (running generations finish; press Ctrl-C again to quit now)\n`);
      server.close().then(
        () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          process.stderr.write('server closed\n');
          resolve(EXIT.ok);
        },
        (err: Error) => {
          process.stderr.write(`error while closing: ${err.message}\n`);
          resolve(EXIT.failure);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
