import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { builtinPlugins } from '../../plugins/index.js';
import { prepareExperiment } from '../../core/config/prepare.js';
import { startServe, type RunningServer, type ServeCommandOptions } from '../../core/cli/serve-command.js';
import { ROOT } from '../helpers/tmp.js';
import { tinyExperiment, tinyProject } from '../helpers/tiny-project.js';

export const CLI = path.join(ROOT, 'bin', 'detox-lab.js');

/**
 * A tiny project (random 2-layer GPT-2, the tiny RoBERTa classifier, 16 prompts) with one finished 3-step run
 * (runs/tiny/main, checkpoints step-2 and step-3), or without a run when `run` is false.
 */
export async function servedProject(opts: { run?: boolean } = {}): Promise<string> {
  const dir = await tinyProject((p) => tinyExperiment(p));
  if (opts.run !== false) {
    const r = spawnSync(process.execPath, [CLI, 'run'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`detox-lab run failed (${r.status}): ${r.stderr}`);
  }
  return dir;
}

/** Starts the server in this process on a free port of 127.0.0.1 (the caller closes it). */
export async function serveIn(dir: string, o: Partial<ServeCommandOptions> = {}): Promise<RunningServer> {
  const prepared = await prepareExperiment({ file: path.join(dir, '.detoxrc.json'), cwd: dir, builtins: builtinPlugins });
  return startServe(prepared, { model: [], port: 0, host: '127.0.0.1', log: false, ...o });
}

/** JSON request helper: status and parsed body. */
export async function call(base: string, url: string, body?: unknown): Promise<{ status: number; body: any; text: string; type: string }> {
  const res = await fetch(
    new URL(url, base),
    body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        },
  );
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, text, type, body: type.includes('json') ? JSON.parse(text) : undefined };
}

/** `detox-lab serve ...` as a child process; resolves once it prints its address. */
export async function spawnServe(
  dir: string,
  args: string[],
): Promise<{ url: string; stop(signal?: NodeJS.Signals): Promise<{ code: number | null; stderr: string }>; kill(): void }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (d) => {
      stdout += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${c}: ${stderr}`));
    });
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    url,
    stop: async (signal = 'SIGINT') => {
      child.kill(signal);
      const code = await exited;
      return { code, stderr };
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
